"""pytest plugin: a fresh real Vermilion server for each test.

Enabled automatically when Vermilion is installed (entry point ``vermilion``).
Fixtures:

* ``vermilion_server`` -- an :class:`~vermilion.embed.EmbeddedServer` on a free
  port of 127.0.0.1, stopped after the test;
* ``vermilion_client`` -- a ``redis.Redis`` connected to it (needs redis-py).

Pass configuration with the ``vermilion_config`` marker::

    @pytest.mark.vermilion_config(requirepass="secret")
    def test_auth(vermilion_client): ...
"""
import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "vermilion_config(**params): Redis configuration for the vermilion_server fixture")


@pytest.fixture
def vermilion_server(request):
    from .embed import start_server  # plugin import cost: pytest loads every installed plugin
    marker = request.node.get_closest_marker("vermilion_config")
    params = dict(marker.kwargs) if marker else {}
    srv = start_server(**params)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def vermilion_client(vermilion_server):
    import redis  # optional: the client only the vermilion_client fixture needs
    client = redis.Redis(host=vermilion_server.host, port=vermilion_server.port)
    try:
        yield client
    finally:
        client.close()
