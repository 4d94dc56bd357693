-- End-to-end test of fastspf-milter, driven by miltertest (a real milter
-- protocol driver). Run by examples/milter/test.sh with:
--   -D milter=PATH -D socket=inet:PORT@127.0.0.1 -D nameserver=127.0.0.1:PORT
-- The milter resolves through a DNS server on loopback serving
-- examples/demo.zone, where broken.demo.example answers SERVFAIL.

mt.startfilter(milter, "-p", socket, "-n", nameserver, "-t", "2000", "-r", "mx.receiver.example")

local function start()
  local conn = mt.connect(socket, 40, 0.25)
  if conn == nil then error("cannot connect to the milter at " .. socket) end
  return conn
end

local function envelope(conn, ip, helo, from)
  if mt.conninfo(conn, "client.example", ip) ~= nil then error("conninfo") end
  if mt.getreply(conn) ~= SMFIR_CONTINUE then error("connect was not accepted") end
  if mt.helo(conn, helo) ~= nil then error("helo") end
  if mt.mailfrom(conn, from) ~= nil then error("mailfrom") end
  return mt.getreply(conn)
end

-- 1. A passing sender: the message goes on and gets a Received-SPF header.
local conn = start()
if envelope(conn, "192.0.2.10", "mail.demo.example", "<alice@pass.demo.example>") ~= SMFIR_CONTINUE then
  error("pass: MAIL FROM was not continued")
end
-- The milter asks for no RCPT, header or body events (it negotiates them
-- away), so the message goes straight to end-of-message.
if mt.eom(conn) ~= nil then error("eom") end
if not mt.eom_check(conn, MT_HDRINSERT, "Received-SPF") then
  error("pass: no Received-SPF header was added")
end
mt.echo("pass: continued, Received-SPF added")
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
