//! WAL positions as PostgreSQL writes them (`16/B374D848`) and as numbers to compare.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Lsn(pub u64);

impl Lsn {
    pub fn parse(text: &str) -> Option<Lsn> {
        let (high, low) = text.trim().split_once('/')?;
        Some(Lsn((u64::from_str_radix(high, 16).ok()? << 32) | u64::from_str_radix(low, 16).ok()?))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

#[cfg(test)]
mod tests {
    use super::Lsn;

    #[test]
    fn parses_and_prints_like_postgres() {
        assert_eq!(Lsn::parse("0/5000060"), Some(Lsn(0x500_0060)));
        assert_eq!(Lsn::parse("16/B374D848").map(|l| l.to_string()).as_deref(), Some("16/B374D848"));
        assert!(Lsn::parse("0/5000028") < Lsn::parse("0/5000060"));
        assert!(Lsn::parse("1/0") > Lsn::parse("0/FFFFFFFF"));
        assert_eq!(Lsn::parse("5000060"), None);
        assert_eq!(Lsn::parse("x/1"), None);
    }
}
