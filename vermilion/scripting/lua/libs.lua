-- libs.lua: the Lua libraries Redis bundles, written in Lua: cjson, cmsgpack,
-- struct (bit is Python, in vermilion/scripting/engine.py).
--
-- Loaded by vermilion/scripting/libs.py, which reads this file once, at import,
-- into LUA_LIBS. vermilion/scripting/engine.py (LuaEngine) runs it in each fresh
-- Lua state as the chunk "=vermilion", before prelude.lua. The chunk returns a
-- function that the prelude calls with its helpers (P); it returns the library
-- tables (the prelude wraps them read-only, and calls their functions through
-- Python trampolines so that they behave as C functions).
--
-- Redis links four C libraries into its Lua (lua_bit.c, lua_cjson.c,
-- lua_cmsgpack.c, lua_struct.c). lupa's Lua has none of them, so they are
-- written here in Lua, against the same behaviour, with a few Python helpers
-- (P) for what Lua 5.1 cannot do exactly (32-bit integer operations, IEEE-754
-- packing: P.mp_double and P.mp_float_bits for cmsgpack, P.struct_pack and
-- P.struct_unpack for struct). The text is handed to Lua as it is:
-- "vermilion:N:" in an error raised from this code names line N of this file.

return function(P)
local type, error, tostring, tonumber, select, pairs, next = type, error, tostring, tonumber, select, pairs, next
local setfenv = setfenv
local rawget, rawset, setmetatable, newproxy = rawget, rawset, setmetatable, newproxy
local sfmt, sbyte, schar, ssub, sfind, srep, sgsub, slower = string.format, string.byte,
  string.char, string.sub, string.find, string.rep, string.gsub, string.lower
local tconcat = table.concat
local floor, huge = math.floor, math.huge
local struct_pack, struct_unpack = P.struct_pack, P.struct_unpack
local mp_double, mp_float_bits = P.mp_double, P.mp_float_bits
local unpack, srev = unpack, string.reverse
local TWO32 = 4294967296
local strtod
setfenv(1, setmetatable({}, {
  __index = function(_, k) error("vermilion libs: unknown global " .. tostring(k), 0) end,
  __newindex = function(_, k) error("vermilion libs: global assignment " .. tostring(k), 0) end,
}))

-- ================================================================== cjson
local json_null = newproxy()
local cjson = {null = json_null, _NAME = "cjson", _VERSION = "2.1.0"}

local escapes = {}
for i = 0, 31 do escapes[schar(i)] = sfmt("\\u%04x", i) end
escapes["\b"] = "\\b"; escapes["\t"] = "\\t"; escapes["\n"] = "\\n"
escapes["\f"] = "\\f"; escapes["\r"] = "\\r"; escapes['"'] = '\\"'
escapes["\\"] = "\\\\"; escapes["/"] = "\\/"; escapes["\127"] = "\\u007f"

local function json_string(s)
  return '"' .. sgsub(s, '[%c"\\/\127]', escapes) .. '"'
end

local encode_max_depth = 1000
local decode_max_depth = 1000
local sparse_convert, sparse_ratio, sparse_safe = false, 2, 10

local function enc_error(v, reason)
  error("Cannot serialise " .. type(v) .. ": " .. reason, 0)
end

-- cjson.encode_invalid_numbers: false (an error), true ("nan", "inf", "-inf",
-- as Redis's lua_cjson prints them) or "null"
local encode_invalid = false

local function json_num(n)
  if n ~= n or n == huge or n == -huge then
    if encode_invalid == "null" then return "null" end
    if not encode_invalid then enc_error(n, "must not be NaN or Inf") end
    if n ~= n then return "nan" end
    return n > 0 and "inf" or "-inf"
  end
  return sfmt("%.14g", n)
end

local encode_value
local function array_length(t)
  local max, items = 0, 0
  for k in next, t do
    if type(k) == "number" and k ~= 0 and floor(k) == k and k >= 1 then
      if k > max then max = k end
      items = items + 1
    else
      return -1
    end
  end
  if sparse_ratio > 0 and max > items * sparse_ratio and max > sparse_safe then
    if not sparse_convert then enc_error(t, "excessively sparse array") end
    return -1
  end
  return max
end

encode_value = function(v, depth, out, n)
  local t = type(v)
  if t == "string" then
    n = n + 1; out[n] = json_string(v)
  elseif t == "number" then
    n = n + 1; out[n] = json_num(v)
  elseif t == "boolean" then
    n = n + 1; out[n] = v and "true" or "false"
  elseif t == "nil" or v == json_null then
    n = n + 1; out[n] = "null"
  elseif t == "table" then
    depth = depth + 1
    if depth > encode_max_depth then
      error(sfmt("Cannot serialise, excessive nesting (%d)", depth), 0)
    end
    local len = array_length(v)
    if len > 0 then
      n = n + 1; out[n] = "["
      for i = 1, len do
        if i > 1 then n = n + 1; out[n] = "," end
        n = encode_value(rawget(v, i), depth, out, n)
      end
      n = n + 1; out[n] = "]"
    else
      n = n + 1; out[n] = "{"
      local first = true
      for k, x in next, v do
        if not first then n = n + 1; out[n] = "," end
        first = false
        local kt = type(k)
        if kt == "number" then
          n = n + 1; out[n] = '"' .. json_num(k) .. '":'
        elseif kt == "string" then
          n = n + 1; out[n] = json_string(k) .. ":"
        else
          enc_error(k, "table key must be a number or string")
        end
        n = encode_value(x, depth, out, n)
      end
      n = n + 1; out[n] = "}"
    end
  else
    enc_error(v, "type not supported")
  end
  return n
end

cjson.encode = function(...)
  if select("#", ...) ~= 1 then error("bad argument #1 to 'encode' (expected 1 argument)", 0) end
  local out = {}
  local n = encode_value((...), 0, out, 0)
  return tconcat(out, "", 1, n)
end

-- decoding
local WS = {[" "] = true, ["\t"] = true, ["\n"] = true, ["\r"] = true}
local TOKEN_NAME = {["{"] = "T_OBJ_BEGIN", ["}"] = "T_OBJ_END", ["["] = "T_ARR_BEGIN",
  ["]"] = "T_ARR_END", [","] = "T_COMMA", [":"] = "T_COLON"}

local function utf8_of(cp)
  if cp <= 0x7F then return schar(cp) end
  if cp <= 0x7FF then return schar(floor(cp / 64) + 0xC0, cp % 64 + 0x80) end
  if cp <= 0xFFFF then
    return schar(floor(cp / 4096) + 0xE0, floor(cp / 64) % 64 + 0x80, cp % 64 + 0x80)
  end
  return schar(floor(cp / 262144) + 0xF0, floor(cp / 4096) % 64 + 0x80,
               floor(cp / 64) % 64 + 0x80, cp % 64 + 0x80)
end

local ESC = {b = "\b", t = "\t", n = "\n", f = "\f", r = "\r", ['"'] = '"', ["\\"] = "\\", ["/"] = "/"}

-- a token: type, value, start position (1-based), next position
local function next_token(s, pos)
  local len = #s
  while true do
    local ch = ssub(s, pos, pos)
    if not WS[ch] then break end
    pos = pos + 1
  end
  if pos > len or sbyte(s, pos) == 0 then return "T_END", nil, pos, pos end
  local ch = ssub(s, pos, pos)
  local tn = TOKEN_NAME[ch]
  if tn then return tn, nil, pos, pos + 1 end
  local b = sbyte(s, pos)
  if ch == '"' then
    local parts, np = {}, 0
    local i = pos + 1
    while true do
      local c = ssub(s, i, i)
      if c == '"' then break end
      if c == "" or c == "\0" then return "T_ERROR", "unexpected end of string", i, i end
      if c == "\\" then
        local e = ssub(s, i + 1, i + 1)
        if e == "u" then
          local hex = ssub(s, i + 2, i + 5)
          local cp = (#hex == 4 and not sfind(hex, "[^%x]")) and tonumber(hex, 16)
          if not cp then return "T_ERROR", "invalid unicode escape code", i, i end
          local used = 6
          if cp >= 0xD800 and cp <= 0xDFFF then
            if cp >= 0xDC00 then return "T_ERROR", "invalid unicode escape code", i, i end
            if ssub(s, i + 6, i + 7) ~= "\\u" then
              return "T_ERROR", "invalid unicode escape code", i, i
            end
            local hex2 = ssub(s, i + 8, i + 11)
            local lo = (#hex2 == 4 and not sfind(hex2, "[^%x]")) and tonumber(hex2, 16)
            if not lo or lo < 0xDC00 or lo > 0xDFFF then
              return "T_ERROR", "invalid unicode escape code", i, i
            end
            cp = (cp - 0xD800) * 1024 + (lo - 0xDC00) + 0x10000
            used = 12
          end
          np = np + 1; parts[np] = utf8_of(cp)
          i = i + used
        else
          local r = ESC[e]
          if not r then return "T_ERROR", "invalid escape code", i, i end
          np = np + 1; parts[np] = r
          i = i + 2
        end
      else
        local j = sfind(s, '["\\%z]', i)
        if not j then j = len + 1 end
        np = np + 1; parts[np] = ssub(s, i, j - 1)
        i = j
      end
    end
    return "T_STRING", tconcat(parts), pos, i + 1
  end
  if ch == "-" or (b >= 48 and b <= 57) then
    local num, np = strtod(s, pos)
    if not num then return "T_ERROR", "invalid number", pos, pos end
    return "T_NUMBER", num, pos, np
  end
  if ssub(s, pos, pos + 3) == "true" then return "T_BOOLEAN", true, pos, pos + 4 end
  if ssub(s, pos, pos + 4) == "false" then return "T_BOOLEAN", false, pos, pos + 5 end
  if ssub(s, pos, pos + 3) == "null" then return "T_NULL", json_null, pos, pos + 4 end
  if ch == "+" or slower(ssub(s, pos, pos + 2)) == "inf" or slower(ssub(s, pos, pos + 2)) == "nan" then
    -- decode_invalid_numbers is on: what strtod takes
    local num, np = strtod(s, pos)
    if not num then return "T_ERROR", "invalid number", pos, pos end
    return "T_NUMBER", num, pos, np
  end
  return "T_ERROR", "invalid token", pos, pos
end

-- strtod: the number at pos and the position after it, or nil
strtod = function(s, pos)
  local _, e, sign = sfind(s, "^([-+]?)", pos)
  local p = e + 1
  local neg = sign == "-"
  local _, he, hex = sfind(s, "^0[xX](%x+)", p)
  if he then
    local v = tonumber(hex, 16)
    return neg and -v or v, he + 1
  end
  local w = slower(ssub(s, p, p + 7))
  if ssub(w, 1, 8) == "infinity" then return neg and -huge or huge, p + 8 end
  if ssub(w, 1, 3) == "inf" then return neg and -huge or huge, p + 3 end
  if ssub(w, 1, 3) == "nan" then
    local _, pe = sfind(s, "^%([%w_]*%)", p + 3)
    return 0 / 0, (pe or p + 2) + 1
  end
  local _, de = sfind(s, "^%d*%.?%d*", p)
  local body = ssub(s, p, de)
  if not sfind(body, "%d") then return nil end
  local _, ee = sfind(s, "^[eE][-+]?%d+", de + 1)
  if ee then de = ee end
  local v = tonumber(ssub(s, p, de))
  return neg and -v or v, de + 1
end

local function parse_error(exp, tt, tv, tpos)
  local found = (tt == "T_ERROR") and tv or tt
  error(sfmt("Expected %s but found %s at character %d", exp, found, tpos), 0)
end

local decode_value
local function decode_object(s, pos, depth)
  depth = depth + 1
  if depth > decode_max_depth then
    error(sfmt("Found too many nested data structures (%d) at character %d", depth, pos - 1), 0)
  end
  local obj = {}
  local tt, tv, tpos, np = next_token(s, pos)
  if tt == "T_OBJ_END" then return obj, np end
  while true do
    if tt ~= "T_STRING" then parse_error("object key string", tt, tv, tpos) end
    local key = tv
    tt, tv, tpos, np = next_token(s, np)
    if tt ~= "T_COLON" then parse_error("colon", tt, tv, tpos) end
    tt, tv, tpos, np = next_token(s, np)
    local val
    val, np = decode_value(s, tt, tv, tpos, np, depth)
    rawset(obj, key, val)
    tt, tv, tpos, np = next_token(s, np)
    if tt == "T_OBJ_END" then return obj, np end
    if tt ~= "T_COMMA" then parse_error("comma or object end", tt, tv, tpos) end
    tt, tv, tpos, np = next_token(s, np)
  end
end

local function decode_array(s, pos, depth)
  depth = depth + 1
  if depth > decode_max_depth then
    error(sfmt("Found too many nested data structures (%d) at character %d", depth, pos - 1), 0)
  end
  local arr = {}
  local tt, tv, tpos, np = next_token(s, pos)
  if tt == "T_ARR_END" then return arr, np end
  local i = 1
  while true do
    local val
    val, np = decode_value(s, tt, tv, tpos, np, depth)
    rawset(arr, i, val)
    i = i + 1
    tt, tv, tpos, np = next_token(s, np)
    if tt == "T_ARR_END" then return arr, np end
    if tt ~= "T_COMMA" then parse_error("comma or array end", tt, tv, tpos) end
    tt, tv, tpos, np = next_token(s, np)
  end
end

decode_value = function(s, tt, tv, tpos, np, depth)
  if tt == "T_STRING" or tt == "T_NUMBER" or tt == "T_BOOLEAN" or tt == "T_NULL" then
    return tv, np
  elseif tt == "T_OBJ_BEGIN" then
    return decode_object(s, np, depth)
  elseif tt == "T_ARR_BEGIN" then
    return decode_array(s, np, depth)
  end
  parse_error("value", tt, tv, tpos)
end

local function json_decode(s)
  if #s >= 2 and (sbyte(s, 1) == 0 or sbyte(s, 2) == 0) then
    error("JSON parser does not support UTF-16 or UTF-32", 0)
  end
  local tt, tv, tpos, np = next_token(s, 1)
  local v
  v, np = decode_value(s, tt, tv, tpos, np, 0)
  tt, tv, tpos, np = next_token(s, np)
  if tt ~= "T_END" then parse_error("the end", tt, tv, tpos) end
  return v
end

cjson.decode = function(...)
  if select("#", ...) ~= 1 then error("bad argument #1 to 'decode' (expected 1 argument)", 0) end
  local s = ...
  if type(s) == "number" then s = tostring(s) end
  if type(s) ~= "string" then
    error(sfmt("bad argument #1 to 'decode' (string expected, got %s)", type(s)), 0)
  end
  return json_decode(s)
end

local function cfg_bool(v, cur)
  if v == nil then return cur end
  if v == true or v == "on" then return true end
  if v == false or v == "off" then return false end
  return cur
end

cjson.encode_sparse_array = function(convert, ratio, safe)
  sparse_convert = cfg_bool(convert, sparse_convert)
  if ratio ~= nil then sparse_ratio = tonumber(ratio) or sparse_ratio end
  if safe ~= nil then sparse_safe = tonumber(safe) or sparse_safe end
  return sparse_convert, sparse_ratio, sparse_safe
end
cjson.encode_max_depth = function(d)
  if d ~= nil then encode_max_depth = tonumber(d) or encode_max_depth end
  return encode_max_depth
end
cjson.decode_max_depth = function(d)
  if d ~= nil then decode_max_depth = tonumber(d) or decode_max_depth end
  return decode_max_depth
end
cjson.encode_number_precision = function() return 14 end
cjson.encode_keep_buffer = function() return true end
cjson.encode_invalid_numbers = function(v)
  if v == "null" then encode_invalid = "null" else encode_invalid = cfg_bool(v, encode_invalid) end
  return encode_invalid
end
cjson.decode_invalid_numbers = function() return true end
cjson.new = function()
  local t = {}
  for k, v in pairs(cjson) do t[k] = v end
  return t
end

-- ================================================================ cmsgpack
local cmsgpack = {_NAME = "cmsgpack", _VERSION = "lua-cmsgpack 0.4.0",
                  _COPYRIGHT = "Copyright (C) 2012, Salvatore Sanfilippo",
                  _DESCRIPTION = "MessagePack C implementation for Lua"}

local function be(n, bytes)
  local t = {}
  for i = bytes, 1, -1 do
    local d = n % 256
    t[i] = schar(d)
    n = (n - d) / 256
  end
  return tconcat(t)
end

local function mp_int(n, out, k)
  local s
  if n >= 0 then
    if n <= 127 then s = schar(n)
    elseif n <= 0xff then s = "\204" .. schar(n)
    elseif n <= 0xffff then s = "\205" .. be(n, 2)
    elseif n <= 0xffffffff then s = "\206" .. be(n, 4)
    else s = "\207" .. be(n, 8) end
  else
    if n >= -32 then s = schar(256 + n)
    elseif n >= -128 then s = "\208" .. schar(256 + n)
    elseif n >= -32768 then s = "\209" .. be(65536 + n, 2)
    elseif n >= -2147483648 then s = "\210" .. be(TWO32 + n, 4)
    else s = "\211" .. be(18446744073709551616 + n, 8) end
  end
  k = k + 1; out[k] = s
  return k
end

local mp_encode
local function mp_table_is_array(t)
  local count, max = 0, 0
  for key in next, t do
    if type(key) == "number" and key > 0 and floor(key) == key and key <= 2147483647 then
      if key > max then max = key end
      count = count + 1
    else
      return false
    end
  end
  return max == count
end

mp_encode = function(v, out, k, level)
  local t = type(v)
  if t == "string" then
    local n = #v
    local h
    if n < 32 then h = schar(0xa0 + n)
    elseif n <= 0xff then h = "\217" .. schar(n)
    elseif n <= 0xffff then h = "\218" .. be(n, 2)
    else h = "\219" .. be(n, 4) end
    k = k + 1; out[k] = h
    k = k + 1; out[k] = v
  elseif t == "boolean" then
    k = k + 1; out[k] = v and "\195" or "\194"
  elseif t == "number" then
    if v == v and v ~= huge and v ~= -huge and floor(v) == v
       and v >= -9223372036854775808 and v < 9223372036854775808 then
      k = mp_int(v, out, k)
    else
      k = k + 1; out[k] = mp_float_bits(v)
    end
  elseif t == "table" then
    if level >= 16 then
      k = k + 1; out[k] = "\192"
      return k
    end
    local is_array = mp_table_is_array(v)
    if is_array then
      local n = #v
      if n <= 15 then k = k + 1; out[k] = schar(0x90 + n)
      elseif n <= 0xffff then k = k + 1; out[k] = "\220" .. be(n, 2)
      else k = k + 1; out[k] = "\221" .. be(n, 4) end
      for i = 1, #v do k = mp_encode(v[i], out, k, level + 1) end
    else
      local n2 = 0
      for _ in next, v do n2 = n2 + 1 end
      if n2 <= 15 then k = k + 1; out[k] = schar(0x80 + n2)
      elseif n2 <= 0xffff then k = k + 1; out[k] = "\222" .. be(n2, 2)
      else k = k + 1; out[k] = "\223" .. be(n2, 4) end
      for key, x in next, v do
        k = mp_encode(key, out, k, level + 1)
        k = mp_encode(x, out, k, level + 1)
      end
    end
  else
    k = k + 1; out[k] = "\192"
  end
  return k
end

cmsgpack.pack = function(...)
  local argc = select("#", ...)
  if argc == 0 then
    error("bad argument #0 to 'pack' (MessagePack pack needs input.)", 0)
  end
  local out, k = {}, 0
  for i = 1, argc do k = mp_encode((select(i, ...)), out, k, 0) end
  return tconcat(out, "", 1, k)
end

local function rd_be(s, pos, n)
  local v = 0
  for i = pos, pos + n - 1 do v = v * 256 + sbyte(s, i) end
  return v
end

-- a decoded value: value, next position; nil position = missing bytes,
-- false position = bad format
local mp_decode
local function mp_array(s, p, n)
  local t = {}
  for i = 1, n do
    local v
    v, p = mp_decode(s, p)
    if not p then return nil, p end
    t[i] = v
  end
  return t, p
end
local function mp_map(s, p, n)
  local t = {}
  for _ = 1, n do
    local key, v
    key, p = mp_decode(s, p)
    if not p then return nil, p end
    v, p = mp_decode(s, p)
    if not p then return nil, p end
    if key == nil then error("table index is nil", 0) end
    t[key] = v
  end
  return t, p
end

local MP_SIZES = {[0xcc] = 1, [0xcd] = 2, [0xce] = 4, [0xcf] = 8,
                  [0xd0] = 1, [0xd1] = 2, [0xd2] = 4, [0xd3] = 8,
                  [0xca] = 4, [0xcb] = 8, [0xd9] = 1, [0xda] = 2, [0xdb] = 4,
                  [0xdc] = 2, [0xdd] = 4, [0xde] = 2, [0xdf] = 4}

mp_decode = function(s, pos)
  local len = #s
  if pos > len then return nil, nil end
  local c = sbyte(s, pos)
  if c <= 0x7f then return c, pos + 1 end
  if c >= 0xe0 then return c - 256, pos + 1 end
  if c >= 0xa0 and c <= 0xbf then
    local n = c - 0xa0
    if pos + n > len then return nil, nil end
    return ssub(s, pos + 1, pos + n), pos + 1 + n
  end
  if c >= 0x90 and c <= 0x9f then return mp_array(s, pos + 1, c - 0x90) end
  if c >= 0x80 and c <= 0x8f then return mp_map(s, pos + 1, c - 0x80) end
  if c == 0xc0 then return nil, pos + 1 end
  if c == 0xc2 then return false, pos + 1 end
  if c == 0xc3 then return true, pos + 1 end
  local sz = MP_SIZES[c]
  if not sz then return nil, false end
  if pos + sz > len then return nil, nil end
  if c >= 0xcc and c <= 0xcf then return rd_be(s, pos + 1, sz), pos + 1 + sz end
  if c >= 0xd0 and c <= 0xd3 then
    local v = rd_be(s, pos + 1, sz)
    local lim = 2 ^ (8 * sz)
    if v >= lim / 2 then v = v - lim end
    return v, pos + 1 + sz
  end
  if c == 0xca or c == 0xcb then
    return mp_double(ssub(s, pos + 1, pos + sz)), pos + 1 + sz
  end
  local n = rd_be(s, pos + 1, sz)
  local p = pos + 1 + sz
  if c >= 0xd9 and c <= 0xdb then
    if p + n - 1 > len then return nil, nil end
    return ssub(s, p, p + n - 1), p + n
  end
  if c == 0xdc or c == 0xdd then return mp_array(s, p, n) end
  return mp_map(s, p, n)
end

local function mp_unpack_full(s, limit, offset)
  if type(s) ~= "string" then
    error(sfmt("bad argument #1 to 'unpack' (string expected, got %s)", type(s)), 0)
  end
  local decode_all = limit == 0 and offset == 0
  if limit < 0 or offset < 0 then
    error(sfmt("Invalid request to unpack with offset of %d and limit of %d.", offset, #s), 0)
  end
  if offset > #s then
    error(sfmt("Start offset %d greater than input length %d.", offset, #s), 0)
  end
  if decode_all then limit = 2147483647 end
  local results, n = {}, 0
  local pos = offset + 1
  local len = #s
  while pos <= len and n < limit do
    local v, np = mp_decode(s, pos)
    if np == nil then error("Missing bytes in input.", 0) end
    if np == false then error("Bad data format in input.", 0) end
    n = n + 1
    results[n] = v
    pos = np
  end
  if decode_all then return unpack(results, 1, n) end
  local off = (pos > len) and -1 or (pos - 1)
  return off, unpack(results, 1, n)
end

local function checkinteger(v, n, fname, present)
  local x = tonumber(v)
  if x == nil then
    error(sfmt("bad argument #%d to '%s' (number expected, got %s)", n, fname,
               present and type(v) or "no value"), 0)
  end
  return x >= 0 and floor(x) or -floor(-x)
end
cmsgpack.unpack = function(s) return mp_unpack_full(s, 0, 0) end
cmsgpack.unpack_one = function(...)
  local s, offset = ...
  if offset == nil then offset = 0 else offset = checkinteger(offset, 2, "unpack_one", true) end
  return mp_unpack_full(s, 1, offset)
end
cmsgpack.unpack_limit = function(...)
  local s, limit, offset = ...
  limit = checkinteger(limit, 2, "unpack_limit", select("#", ...) >= 2)
  if offset == nil then offset = 0 else offset = checkinteger(offset, 3, "unpack_limit", true) end
  return mp_unpack_full(s, limit, offset)
end

-- ================================================================== struct
local struct = {}
local MAXINTSIZE, MAXALIGN = 32, 8

local function band_small(a, b)   -- a & b for small non-negative integers
  local r, bit = 0, 1
  while a > 0 and b > 0 do
    if a % 2 == 1 and b % 2 == 1 then r = r + bit end
    a, b, bit = floor(a / 2), floor(b / 2), bit * 2
  end
  return r
end

local function isdigit(c) return c ~= "" and c >= "0" and c <= "9" end

-- getnum: (number or default, next index)
local function getnum(fmt, i, df)
  local c = ssub(fmt, i, i)
  if not isdigit(c) then return df, i end
  local a = 0
  repeat
    local dgt = sbyte(fmt, i) - 48
    if a > 214748364 or a * 10 > 2147483647 - dgt then error("integral size overflow", 0) end
    a = a * 10 + dgt
    i = i + 1
  until not isdigit(ssub(fmt, i, i))
  return a, i
end

local FIXED = {b = 1, B = 1, h = 2, H = 2, l = 8, L = 8, T = 8, f = 4, d = 8, x = 1}
local function optsize(opt, fmt, i)
  local sz = FIXED[opt]
  if sz then return sz, i end
  if opt == "c" then return getnum(fmt, i, 1) end
  if opt == "i" or opt == "I" then
    local n
    n, i = getnum(fmt, i, 4)
    if n > MAXINTSIZE then
      error(sfmt("integral size %d is larger than limit of %d", n, MAXINTSIZE), 0)
    end
    return n, i
  end
  return 0, i
end

local function gettoalign(len, h, opt, size)
  if size == 0 or opt == "c" then return 0 end
  if size > h.align then size = h.align end
  return band_small(size - band_small(len, size - 1), size - 1)
end

local function controloptions(opt, fmt, i, h)
  if opt == " " then return i end
  if opt == ">" then h.little = false; return i end
  if opt == "<" then h.little = true; return i end
  if opt == "!" then
    local a
    a, i = getnum(fmt, i, MAXALIGN)
    if not (a > 0 and band_small(a, a - 1) == 0) then
      error(sfmt("alignment %d is not a power of 2", a), 0)
    end
    h.align = a
    return i
  end
  error(sfmt("bad argument #1 to '%s' (invalid format option '%s')", h.fname, opt), 0)
end

local INTEGER = {b = true, B = true, h = true, H = true, l = true, L = true, T = true,
                 i = true, I = true}

local function checkfmt(fmt, fname)
  if type(fmt) == "number" then return tostring(fmt) end
  if type(fmt) ~= "string" then
    error(sfmt("bad argument #1 to '%s' (string expected, got %s)", fname,
               fmt == nil and "no value" or type(fmt)), 0)
  end
  return fmt
end

local function argval(args, n, k, fname, what)
  local v = args[k]
  if what == "number" then
    local x = tonumber(v)
    if x == nil then
      error(sfmt("bad argument #%d to '%s' (number expected, got %s)", k + 1, fname,
                 k > n + 1 and "no value" or type(v)), 0)
    end
    return x
  end
  if type(v) == "number" then return tostring(v) end
  if type(v) ~= "string" then
    error(sfmt("bad argument #%d to '%s' (string expected, got %s)", k + 1, fname,
               k > n + 1 and "no value" or type(v)), 0)
  end
  return v
end

local function int_bytes(v, size, little)
  local t = {}
  for i = 1, size do
    if i > 8 then
      t[i] = "\0"          -- a 64-bit value shifted out
    else
      local d = v % 256
      t[i] = schar(d)
      v = (v - d) / 256
    end
  end
  local s = tconcat(t)
  if not little then s = srev(s) end
  return s
end

struct.pack = function(fmt, ...)
  fmt = checkfmt(fmt, "pack")
  local n = select("#", ...)
  local args = {...}
  local h = {little = true, align = 1, fname = "pack"}
  local out, k = {}, 0
  local total, arg = 0, 1
  local i, len = 1, #fmt
  while i <= len do
    local opt = ssub(fmt, i, i)
    i = i + 1
    local size
    size, i = optsize(opt, fmt, i)
    local toalign = gettoalign(total, h, opt, size)
    total = total + toalign
    if toalign > 0 then k = k + 1; out[k] = srep("\0", toalign) end
    if INTEGER[opt] then
      local v = argval(args, n, arg, "pack", "number")
      arg = arg + 1
      v = v >= 0 and floor(v) or -floor(-v)
      k = k + 1; out[k] = int_bytes(v, size, h.little)
    elseif opt == "x" then
      k = k + 1; out[k] = "\0"
    elseif opt == "f" or opt == "d" then
      local v = argval(args, n, arg, "pack", "number")
      arg = arg + 1
      k = k + 1; out[k] = struct_pack((h.little and "<" or ">") .. opt, v)
    elseif opt == "c" or opt == "s" then
      local v = argval(args, n, arg, "pack", "string")
      arg = arg + 1
      local l = #v
      if size == 0 then size = l end
      if l < size then
        error(sfmt("bad argument #%d to 'pack' (string too short)", arg + 1), 0)
      end
      k = k + 1; out[k] = ssub(v, 1, size)
      if opt == "s" then k = k + 1; out[k] = "\0"; size = size + 1 end
    else
      i = controloptions(opt, fmt, i, h)
    end
    total = total + size
  end
  return tconcat(out, "", 1, k)
end

local function getinteger(data, pos, size, little, signed)
  -- the bytes from most to least significant; a 64-bit accumulator keeps the last 8
  local bytes = {sbyte(data, pos + 1, pos + size)}
  if little then
    local r = {}
    for j = 1, size do r[j] = bytes[size + 1 - j] end
    bytes = r
  end
  local first = size > 8 and size - 7 or 1
  if signed and size <= 8 and bytes[1] >= 128 then
    local c = 0
    for j = first, size do c = c * 256 + (255 - bytes[j]) end
    return -(c + 1)
  end
  local v = 0
  for j = first, size do v = v * 256 + bytes[j] end
  return v
end

struct.unpack = function(...)
  local fmt, data, init = ...
  fmt = checkfmt(fmt, "unpack")
  if type(data) == "number" then data = tostring(data) end
  if type(data) ~= "string" then
    error(sfmt("bad argument #2 to 'unpack' (string expected, got %s)",
               select("#", ...) < 2 and "no value" or type(data)), 0)
  end
  local pos = 1
  if init ~= nil then
    pos = tonumber(init)
    if pos == nil then
      error(sfmt("bad argument #3 to 'unpack' (number expected, got %s)", type(init)), 0)
    end
    pos = pos >= 0 and floor(pos) or -floor(-pos)
  end
  if pos <= 0 then error("bad argument #3 to 'unpack' (offset must be 1 or greater)", 0) end
  pos = pos - 1
  local ld = #data
  local h = {little = true, align = 1, fname = "unpack"}
  local res, n = {}, 0
  local i, len = 1, #fmt
  while i <= len do
    local opt = ssub(fmt, i, i)
    i = i + 1
    local size
    size, i = optsize(opt, fmt, i)
    pos = pos + gettoalign(pos, h, opt, size)
    if not (size <= ld and pos <= ld - size) then
      error("bad argument #2 to 'unpack' (data string too short)", 0)
    end
    if INTEGER[opt] then
      n = n + 1; res[n] = getinteger(data, pos, size, h.little, opt == slower(opt))
    elseif opt == "x" then
      -- padding
    elseif opt == "f" or opt == "d" then
      n = n + 1; res[n] = struct_unpack((h.little and "<" or ">") .. opt, ssub(data, pos + 1, pos + size))
    elseif opt == "c" then
      if size == 0 then
        if n == 0 or type(res[n]) ~= "number" then error("format 'c0' needs a previous size", 0) end
        size = res[n]
        res[n] = nil
        n = n - 1
        if not (size <= ld and pos <= ld - size) then
          error("bad argument #2 to 'unpack' (data string too short)", 0)
        end
      end
      n = n + 1; res[n] = ssub(data, pos + 1, pos + size)
    elseif opt == "s" then
      local e = sfind(data, "\0", pos + 1, true)
      if not e then error("unfinished string in data", 0) end
      size = e - pos
      n = n + 1; res[n] = ssub(data, pos + 1, e - 1)
    else
      i = controloptions(opt, fmt, i, h)
    end
    pos = pos + size
  end
  n = n + 1; res[n] = pos + 1
  return unpack(res, 1, n)
end

struct.size = function(fmt)
  fmt = checkfmt(fmt, "size")
  local h = {little = true, align = 1, fname = "size"}
  local pos = 0
  local i, len = 1, #fmt
  while i <= len do
    local opt = ssub(fmt, i, i)
    i = i + 1
    local size
    size, i = optsize(opt, fmt, i)
    pos = pos + gettoalign(pos, h, opt, size)
    if opt == "s" then
      error("bad argument #1 to 'size' (option 's' has no fixed size)", 0)
    elseif opt == "c" and size == 0 then
      error("bad argument #1 to 'size' (option 'c0' has no fixed size)", 0)
    end
    if not sfind(opt, "%w") then i = controloptions(opt, fmt, i, h) end
    pos = pos + size
  end
  return pos
end

return {cjson = cjson, cmsgpack = cmsgpack, struct = struct}
end
