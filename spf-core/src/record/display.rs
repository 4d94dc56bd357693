//! Printing records: `Display` gives text that re-parses to an equal record.

use std::fmt;

use super::{Directive, DomainSpec, DualCidr, Mechanism, Modifier, Qualifier, Record, Term};

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("v=spf1")?;
        for term in &self.terms {
            write!(f, " {term}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Term::Directive(d) => d.fmt(f),
            Term::Modifier(m) => m.fmt(f),
        }
    }
}

impl fmt::Display for Directive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.qualifier != Qualifier::Pass {
            write!(f, "{}", self.qualifier.as_char())?;
        }
        self.mechanism.fmt(f)
    }
}

impl fmt::Display for DomainSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.spec.fmt(f)
    }
}

fn opt_domain(f: &mut fmt::Formatter<'_>, d: &Option<DomainSpec>) -> fmt::Result {
    match d {
        Some(d) => write!(f, ":{d}"),
        None => Ok(()),
    }
}

impl fmt::Display for DualCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(v4) = self.v4 {
            write!(f, "/{v4}")?;
        }
        if let Some(v6) = self.v6 {
            write!(f, "//{v6}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match self {
            Mechanism::All => Ok(()),
            Mechanism::Include(d) | Mechanism::Exists(d) => write!(f, ":{d}"),
            Mechanism::A { domain, cidr } | Mechanism::Mx { domain, cidr } => {
                opt_domain(f, domain)?;
                cidr.fmt(f)
            }
            Mechanism::Ptr(d) => opt_domain(f, d),
            Mechanism::Ip4 { addr, prefix } => {
                write!(f, ":{addr}")?;
                prefix.map_or(Ok(()), |p| write!(f, "/{p}"))
            }
            Mechanism::Ip6 { addr, prefix } => {
                write!(f, ":{addr}")?;
                prefix.map_or(Ok(()), |p| write!(f, "/{p}"))
            }
        }
    }
}

impl fmt::Display for Modifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Modifier::Redirect(d) => write!(f, "redirect={d}"),
            Modifier::Exp(d) => write!(f, "exp={d}"),
            Modifier::Unknown { name, value } => write!(f, "{name}={value}"),
        }
    }
}
