-- OpenDMARC under miltertest: a message per sender, and the SPF verdict it
-- writes into Authentication-Results. Run by spf-compat/tests/run.sh with
--   -D milter=PATH -D conf=PATH -D socket=inet:PORT@127.0.0.1
-- against a DNS server on 127.0.0.1 serving examples/demo.zone.
-- (miltertest prints nothing for a failed Lua call: each step is checked.)

mt.startfilter(milter, "-f", "-c", conf, "-p", socket)

local verdicts = {"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"}

local function message(ip, sender)
  local domain = string.match(sender, "@(.+)$")
  local conn = mt.connect(socket, 40, 0.25)
  if conn == nil then error("cannot connect to opendmarc at " .. socket) end
  if mt.conninfo(conn, "client.example", ip) ~= nil then error("conninfo") end
  if mt.helo(conn, "mail.demo.example") ~= nil then error("helo") end
  if mt.mailfrom(conn, "<" .. sender .. ">") ~= nil then error("mailfrom") end
  if mt.rcptto(conn, "<postmaster@mx.example.net>") ~= nil then error("rcptto") end
  if mt.header(conn, "From", sender) ~= nil then error("header") end
  if mt.eoh(conn) ~= nil then error("eoh") end
  pcall(mt.bodystring, conn, "hello\r\n") -- opendmarc asks for no body
  if mt.eom(conn) ~= nil then error("eom") end
  local spf = "(no Authentication-Results with spf=)"
  for _, v in ipairs(verdicts) do
    if mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
                    "mx.example.net; spf=" .. v .. " smtp.mailfrom=" .. domain) then
      spf = v
    end
  end
  mt.echo("from=<" .. sender .. "> spf=" .. spf)
  mt.disconnect(conn)
end

message("192.0.2.10", "alice@pass.demo.example")
message("203.0.113.9", "alice@fail.demo.example")
message("203.0.113.9", "alice@softfail.demo.example")
message("203.0.113.9", "alice@neutral.demo.example")
message("192.0.2.10", "alice@none.demo.example")
