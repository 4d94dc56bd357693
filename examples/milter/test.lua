-- End-to-end test of fastspf-milter, driven by miltertest (a real milter
-- protocol driver). Run by examples/milter/test.sh with:
--   -D milter=PATH -D socket=unix:PATH -D socket2=unix:PATH -D nameserver=127.0.0.1:PORT
-- The milter resolves through a DNS server on loopback serving
-- examples/demo.zone and examples/milter/test.zone, where
-- broken.demo.example answers SERVFAIL. Reply texts are not visible to
-- miltertest: test.sh checks them in the milter's log.

mt.startfilter(milter, "-p", socket, "-n", nameserver, "-t", "2000", "-r", "mx.receiver.example")
-- test.sh runs a second one, with -e accept, at socket2 (miltertest stops
-- only the filter it started last, so it starts just one).

local function start(where)
  where = where or socket
  local conn = mt.connect(where, 40, 0.25)
  if conn == nil then error("cannot connect to the milter at " .. where) end
  return conn
end

local function envelope(conn, ip, helo, from)
  if mt.conninfo(conn, "client.example", ip) ~= nil then error("conninfo") end
  if mt.getreply(conn) ~= SMFIR_CONTINUE then error("connect was not accepted") end
  if mt.helo(conn, helo) ~= nil then error("helo") end
  if mt.mailfrom(conn, from) ~= nil then error("mailfrom") end
  return mt.getreply(conn)
end

local function header(conn, name, value)
  if mt.header(conn, name, value) ~= nil then error("header " .. name) end
  return mt.getreply(conn)
end

-- The milter negotiates away the end-of-header event (it needs none).
local function eom(conn)
  local e = mt.eom(conn)
  if e ~= nil then error("eom: " .. tostring(e)) end
end

-- miltertest does not print the message of a failing script: main() runs
-- under pcall, and a failure is echoed before it ends the test.
local function main()
  -- 1. A passing sender: the message goes on, forged Authentication-Results
  -- (this host's authserv-id, however written) are deleted, the others and
  -- the incoming Received-SPF stay, and the milter adds its own fields.
  local conn = start()
  if envelope(conn, "192.0.2.10", "mail.demo.example", "<alice@pass.demo.example>") ~= SMFIR_CONTINUE then
    error("pass: MAIL FROM was not continued")
  end
  local headers = {
    -- #1: ours, plainly.
    {"Authentication-Results", "mx.receiver.example; spf=pass smtp.mailfrom=forged@pass.demo.example"},
    -- #2: another host's: kept.
    {"Authentication-Results", "other.example; spf=fail smtp.mailfrom=alice@pass.demo.example"},
    -- #3: ours, after a nested comment, quoted, upper case, with a root dot.
    {"authentication-results", "(comment (nested \\) )) \"MX.Receiver.Example.\" ; dkim=pass header.d=x"},
    -- #4: a longer name that starts with ours: kept.
    {"Authentication-Results", "mx.receiver.example.evil; spf=pass smtp.mailfrom=x@evil.example"},
    -- #5: ours, folded after the authserv-id.
    {"Authentication-Results", "mx.receiver.example\n\t; spf=pass smtp.mailfrom=forged@pass.demo.example"},
    {"Received-SPF", "pass (forged by the sender) client-ip=192.0.2.10"},
    {"Subject", "test"},
  }
  for _, h in ipairs(headers) do
    if header(conn, h[1], h[2]) ~= SMFIR_CONTINUE then error("pass: header " .. h[1] .. " was not continued") end
  end
  eom(conn)
  if not mt.eom_check(conn, MT_HDRINSERT, "Received-SPF") then
    error("pass: no Received-SPF header was added")
  end
  if not mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results") then
    error("pass: the forged Authentication-Results were not deleted")
  end
  local ar = mt.getheader(conn, "Authentication-Results", 0)
  local want = "mx.receiver.example;\n\tspf=pass smtp.mailfrom=alice@pass.demo.example;\n\tspf=pass smtp.helo=mail.demo.example"
  if ar ~= want then error("pass: Authentication-Results is " .. tostring(ar)) end
  mt.echo("pass: continued, Received-SPF and Authentication-Results added, forged ones deleted")
  mt.disconnect(conn)

  -- 2. A failing sender is rejected at MAIL FROM (550 5.7.23 with the explanation).
  conn = start()
  if envelope(conn, "203.0.113.9", "client.example", "<alice@fail.demo.example>") ~= SMFIR_REPLYCODE then
    error("fail: MAIL FROM was not rejected with a reply code")
  end
  mt.echo("fail: rejected")
  mt.disconnect(conn)

  -- 3. A DNS failure is tempfailed (451 4.7.24).
  conn = start()
  if envelope(conn, "192.0.2.10", "client.example", "<alice@broken.demo.example>") ~= SMFIR_REPLYCODE then
    error("temperror: MAIL FROM was not answered with a reply code")
  end
  mt.echo("temperror: tempfailed")
  mt.disconnect(conn)

  -- 4. A permanent error is rejected (550 5.7.24).
  conn = start()
  if envelope(conn, "192.0.2.10", "client.example", "<alice@permerror.demo.example>") ~= SMFIR_REPLYCODE then
    error("permerror: MAIL FROM was not rejected")
  end
  mt.echo("permerror: rejected")
  mt.disconnect(conn)

  -- 5. A HELO fail is rejected, and the reply says it was the HELO identity
  -- (mail.demo.example allows only 192.0.2.10).
  conn = start()
  if envelope(conn, "203.0.113.9", "mail.demo.example", "<alice@pass.demo.example>") ~= SMFIR_REPLYCODE then
    error("helo fail: MAIL FROM was not rejected")
  end
  mt.echo("helo fail: rejected")
  mt.disconnect(conn)

  -- 6. Explanations with '"' and '%', and at the reply length bound (test.sh
  -- checks the texts in the log).
  for _, domain in ipairs({"fail", "fit", "over"}) do
    conn = start()
    if envelope(conn, "203.0.113.9", "client.example", "<alice@" .. domain .. ".milter.example>") ~= SMFIR_REPLYCODE then
      error(domain .. ": MAIL FROM was not rejected")
    end
    mt.disconnect(conn)
  end
  mt.echo("explanations: rejected")

  -- 7. Only other hosts' Authentication-Results: none deleted, ours added.
  conn = start()
  if envelope(conn, "192.0.2.10", "client.example", "<alice@none.demo.example>") ~= SMFIR_CONTINUE then
    error("none: MAIL FROM was not continued")
  end
  header(conn, "Authentication-Results", "other.example; spf=pass smtp.mailfrom=alice@none.demo.example")
  eom(conn)
  if mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results") then
    error("none: another host's Authentication-Results was deleted")
  end
  ar = mt.getheader(conn, "Authentication-Results", 0)
  want = "mx.receiver.example;\n\tspf=none smtp.mailfrom=alice@none.demo.example;\n\tspf=none smtp.helo=client.example"
  if ar ~= want then error("none: Authentication-Results is " .. tostring(ar)) end
  mt.echo("none: nothing deleted, Authentication-Results added")
  mt.disconnect(conn)

  -- 8. The bound on forged fields: 64 are deleted, a 65th refuses the message.
  conn = start()
  if envelope(conn, "192.0.2.10", "mail.demo.example", "<alice@pass.demo.example>") ~= SMFIR_CONTINUE then
    error("64 forged: MAIL FROM was not continued")
  end
  for i = 1, 64 do
    if header(conn, "Authentication-Results", "mx.receiver.example; spf=pass") ~= SMFIR_CONTINUE then
      error("64 forged: header " .. i .. " was not continued")
    end
  end
  eom(conn)
  mt.echo("64 forged: accepted")
  mt.disconnect(conn)
  conn = start()
  if envelope(conn, "192.0.2.10", "mail.demo.example", "<alice@pass.demo.example>") ~= SMFIR_CONTINUE then
    error("65 forged: MAIL FROM was not continued")
  end
  for i = 1, 64 do header(conn, "Authentication-Results", "mx.receiver.example; spf=pass") end
  if header(conn, "Authentication-Results", "mx.receiver.example; spf=pass") ~= SMFIR_REPLYCODE then
    error("65 forged: the 65th was not refused")
  end
  mt.echo("65 forged: refused")
  mt.disconnect(conn)

  -- 9. Length bounds: a HELO of 505 octets is checked, of 506 is not; a
  -- sender of 1024 octets is checked, of 1025 refused (501 5.1.7).
  local function rep(n) return string.rep("h", n) end
  conn = start()
  if envelope(conn, "192.0.2.10", rep(505), "<alice@pass.demo.example>") ~= SMFIR_CONTINUE then
    error("helo 505: not continued")
  end
  mt.disconnect(conn)
  conn = start()
  if envelope(conn, "192.0.2.10", rep(506), "<alice@pass.demo.example>") ~= SMFIR_CONTINUE then
    error("helo 506: not continued")
  end
  mt.disconnect(conn)
  local long_local = string.rep("s", 1024 - #"@pass.demo.example")
  conn = start()
  if envelope(conn, "192.0.2.10", "mail.demo.example", "<" .. long_local .. "@pass.demo.example>") ~= SMFIR_CONTINUE then
    error("sender 1024: not continued")
  end
  mt.disconnect(conn)
  conn = start()
  if envelope(conn, "192.0.2.10", "mail.demo.example", "<s" .. long_local .. "@pass.demo.example>") ~= SMFIR_REPLYCODE then
    error("sender 1025: not refused")
  end
  mt.echo("length bounds: checked")
  mt.disconnect(conn)

  -- 10. -e accept: a MAIL FROM temperror lets the message go on, and the
  -- Authentication-Results say temperror.
  conn = start(socket2)
  if envelope(conn, "192.0.2.10", "client.example", "<alice@broken.demo.example>") ~= SMFIR_CONTINUE then
    error("-e accept: the temperror was not continued")
  end
  eom(conn)
  ar = mt.getheader(conn, "Authentication-Results", 0)
  -- The library folds long entries (a line feed before a space): compare
  -- the unfolded field.
  local unfolded = ar and (ar:gsub("\n", ""))
  want = "mx.receiver.example;\tspf=temperror reason="
  if unfolded == nil or unfolded:sub(1, #want) ~= want or not unfolded:find("smtp.mailfrom=alice@broken.demo.example", 1, true) then
    error("-e accept: Authentication-Results is " .. tostring(ar))
  end
  mt.echo("-e accept: temperror accepted, Authentication-Results spf=temperror added")
  mt.disconnect(conn)

  -- 11. Local policy (the second milter has -f provider.demo.example and
  -- -s 198.18.0.0/15): a fail that the trusted forwarder explains is
  -- accepted, and its Received-SPF says so; a client in a skipped network
  -- is not checked and not refused.
  conn = start(socket2)
  if envelope(conn, "198.51.100.7", "client.example", "<alice@fail.demo.example>") ~= SMFIR_CONTINUE then
    error("forwarded: the fail was not continued")
  end
  eom(conn)
  -- One Received-SPF per identity: find the MAIL FROM one.
  local found = nil
  for i = 0, 1 do
    local rspf = mt.getheader(conn, "Received-SPF", i)
    local flat = rspf and (rspf:gsub("\n", ""))
    if flat and flat:find("identity=mailfrom", 1, true) then found = flat end
  end
  if found == nil or found:sub(1, 5) ~= "fail " or
     not found:find('policy="forwarded: trusted forwarder provider.demo.example authorizes the client"', 1, true) then
    error("forwarded: the MAIL FROM Received-SPF is " .. tostring(found))
  end
  mt.disconnect(conn)
  conn = start(socket2)
  if envelope(conn, "198.18.0.1", "client.example", "<alice@fail.demo.example>") ~= SMFIR_CONTINUE then
    error("skipped: MAIL FROM was not continued")
  end
  mt.disconnect(conn)
  mt.echo("local policy: forwarded fail accepted and named, skipped client not checked")
end

local ok, err = pcall(main)
if not ok then
  mt.echo("FAILED: " .. tostring(err))
  error(err)
end
