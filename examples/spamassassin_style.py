#!/usr/bin/env python3
"""Evaluate an envelope the way SpamAssassin's SPF rules do, with fastspf.

SpamAssassin scores a message with one rule per SPF outcome for the MAIL
FROM identity (SPF_PASS, SPF_FAIL, SPF_SOFTFAIL, SPF_NEUTRAL, SPF_NONE, and
for errors SPF_PERMERROR/SPF_TEMPERROR) and the same for the HELO identity
(SPF_HELO_*). This script prints the rules that fire and the headers a
filter would add.

    python3 examples/spamassassin_style.py --zone examples/demo.zone \\
        --ip 203.0.113.9 --mail-from alice@fail.demo.example --helo mail.demo.example

Without --zone it asks real DNS (the system's resolvers, or --nameserver).
"""

from __future__ import annotations

import argparse
import sys

import fastspf

RULES = {
    fastspf.Result.PASS: "PASS",
    fastspf.Result.FAIL: "FAIL",
    fastspf.Result.SOFTFAIL: "SOFTFAIL",
    fastspf.Result.NEUTRAL: "NEUTRAL",
    fastspf.Result.NONE: "NONE",
    fastspf.Result.PERMERROR: "PERMERROR",
    fastspf.Result.TEMPERROR: "TEMPERROR",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ip", required=True, help="the SMTP client's address")
    parser.add_argument("--mail-from", required=True, help='the envelope sender ("" for the null sender)')
    parser.add_argument("--helo", required=True, help="the HELO/EHLO name")
    parser.add_argument("--zone", action="append", help="answer DNS from this master file (repeatable)")
    parser.add_argument("--nameserver", action="append", help="ask this resolver, IP[:PORT] (repeatable)")
    parser.add_argument("--receiver", default="mx.example.net", help="this host's name, for the headers")
    args = parser.parse_args()

    try:
        checker = fastspf.Checker(args.nameserver, zone_file=args.zone, receiver=args.receiver)
    except (fastspf.Error, ValueError) as error:
        # An unreadable or malformed zone file, a bad --nameserver: one line, no traceback.
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return 2
    try:
        mail_from = checker.check(args.ip, args.mail_from, args.helo)
        helo = checker.check_helo(args.ip, args.helo)
    except ValueError as error:
        print(f"bad input: {error}", file=sys.stderr)
        return 2

    print(f"SPF_{RULES[mail_from.result]}      MAIL FROM {mail_from.sender}: {mail_from.result}"
          + (f" ({mail_from.explanation})" if mail_from.explanation else ""))
    print(f"SPF_HELO_{RULES[helo.result]} HELO {args.helo}: {helo.result}")
    print()
    print(mail_from.received_spf())
    print(helo.received_spf())
    print(mail_from.authentication_results(args.receiver))
    return 0


if __name__ == "__main__":
    sys.exit(main())
