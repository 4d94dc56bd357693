# Mail::SPF_XS (Debian's libmail-spf-xs-perl, built against libspf2) on
# fastspf's libspf2.so.2: its zone resolver, process, compile, modifier,
# expand. Run by spf-compat/tests/run.sh with LD_LIBRARY_PATH set and the
# compat directory as argument; checks that the library loaded is that one.
use strict;
use warnings;
use Mail::SPF_XS;

my $compat = shift // die "usage: spf_xs.pl COMPAT_LIBDIR\n";
my ($passed, $failed) = (0, 0);
sub check {
    my ($name, $got, $want) = @_;
    $got //= "(undef)";
    if ($got eq $want) { print "ok: $name\n"; $passed++ }
    else { print "FAILED: $name: got [$got], want [$want]\n"; $failed++ }
}

open(my $maps, '<', "/proc/$$/maps") or die "maps: $!";
my ($loaded) = grep { m{libspf2\.so\.2} } <$maps>;
check("libspf2 loaded from the compat directory", ($loaded // '') =~ m{\Q$compat\E/libspf2\.so\.2} ? 1 : 0, 1);

my $txt = Mail::SPF_XS::ns_t_txt();
my $ok = Mail::SPF_XS::NETDB_SUCCESS();
my $server = Mail::SPF_XS::Server->new({ dnstype => Mail::SPF_XS::SPF_DNS_ZONE() });
my $zone = $server->resolver;
check("zone add", $zone->add("pass.example", $txt, $ok, "v=spf1 ip4:192.0.2.0/24 -all exp=why.pass.example"), 0);
check("zone add", $zone->add("why.pass.example", $txt, $ok, "%{i} may not send for %{d}"), 0);
check("zone add", $zone->add("bad.example", $txt, $ok, "v=spf1 ip4:192.0.2.0/24 foo:bar"), 0);

my $process = sub {
    my ($ip, $identity) = @_;
    my $request = Mail::SPF_XS::Request->new({ ip_address => $ip, identity => $identity });
    return $server->process($request);
};
my $r = $process->("192.0.2.7", 'alice@pass.example');
check("pass: code", $r->code, "pass");
check("pass: reason", $r->reason, "mechanism");
$r = $process->("198.51.100.1", 'alice@pass.example');
check("fail: code", $r->code, "fail");
check("fail: explanation (exp=)", $r->explanation, "198.51.100.1 may not send for pass.example");
$r = $process->("192.0.2.7", 'alice@bad.example');
check("permerror anywhere in the record (RFC 7208 4.6)", $r->code, "permerror");
check("permerror: error", $r->error, "Unknown mechanism found");
$r = $process->("192.0.2.7", 'alice@nowhere.example');
check("none: code", $r->code, "none");

my $record = $server->compile("v=spf1 a:%{d} -all exp=why.%{d} moo=cow");
check("compile + string", $record->string, "v=spf1 a:%{d} -all exp=why.%{d} moo=cow");
check("modifier", $record->modifier("moo"), "cow");
check("expand", $server->expand("%{l} at %{o}"), "env-from-local-part at env-from-domain-part.com");
eval { $server->compile("v=spf1 foo:bar") };
check("compile error", ($@ =~ /Failed to compile record: err = ([^\n]*?) at /) ? $1 : $@, "Unknown mechanism found");
print "Mail::SPF_XS tests: $passed passed, $failed failed\n";
exit($failed ? 1 : 0);
