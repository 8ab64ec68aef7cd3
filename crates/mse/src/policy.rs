//! Encryption policies as users know them from libtorrent, Transmission and
//! rtorrent, and what each one means for dialing and for accepting.

use std::fmt;
use std::str::FromStr;

/// `crypto_provide`/`crypto_select` bit: plaintext after the MSE handshake
/// (only the handshake is obfuscated).
pub const CRYPTO_PLAINTEXT: u32 = 0x01;
/// `crypto_provide`/`crypto_select` bit: RC4 for the whole stream.
pub const CRYPTO_RC4: u32 = 0x02;

/// How the payload stream is carried once a connection is established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Every byte after the handshake is RC4-encrypted.
    Rc4,
    /// The payload is plaintext: a plain BitTorrent connection, or an MSE
    /// handshake that selected `crypto_plaintext`.
    Plaintext,
}

impl Method {
    /// Its `crypto_select` bit.
    pub fn bit(self) -> u32 {
        match self {
            Method::Rc4 => CRYPTO_RC4,
            Method::Plaintext => CRYPTO_PLAINTEXT,
        }
    }
}

/// How to open an outgoing connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attempt {
    /// Start with the MSE handshake.
    Encrypted,
    /// Start with the plain BitTorrent handshake, no MSE.
    Plaintext,
}

/// A session's encryption policy.
///
/// | policy    | dial first | retry after failure | accept plain | accept MSE | offer      | select when both offered |
/// |-----------|------------|---------------------|--------------|------------|------------|--------------------------|
/// | `prefer`  | MSE        | plaintext           | yes          | yes        | RC4, plain | plain                    |
/// | `require` | MSE        | —                   | no           | yes        | RC4        | RC4                      |
/// | `allow`   | plaintext  | MSE                 | yes          | yes        | RC4, plain | plain                    |
/// | `disable` | plaintext  | —                   | yes          | no         | —          | —                        |
///
/// `prefer` offers plaintext inside MSE too, as libtorrent and Transmission
/// do by default, so a peer that allows only obfuscated-plaintext still
/// connects; which method is used is then the receiver's choice. As a
/// receiver `prefer` picks plaintext when both are offered, as libtorrent
/// (and so qBittorrent and Deluge) does by default: the handshake is
/// obfuscated either way, and RC4 would cap a transfer at the cipher's
/// speed (about 880 MiB/s of CPU per core with OpenSSL's, 480 with the
/// `rc4` crate: an encrypted loopback transfer runs at about half of
/// shoal's plaintext rate). A peer that requires RC4 still gets
/// it; `require` asks for it always.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Policy {
    /// Try encrypted, accept plaintext (the default).
    #[default]
    Prefer,
    /// RC4 only; plaintext refused both ways.
    Require,
    /// Plaintext first, accept encrypted.
    Allow,
    /// No MSE at all.
    Disable,
}

impl Policy {
    /// The handshake to start an outgoing connection with.
    pub fn first_attempt(self) -> Attempt {
        match self {
            Policy::Prefer | Policy::Require => Attempt::Encrypted,
            Policy::Allow | Policy::Disable => Attempt::Plaintext,
        }
    }

    /// The handshake to retry with when the first attempt fails before the
    /// peer's BitTorrent handshake arrives; `None` means do not retry.
    /// The caller should remember which mode worked for the peer.
    pub fn fallback(self) -> Option<Attempt> {
        match self {
            Policy::Prefer => Some(Attempt::Plaintext),
            Policy::Allow => Some(Attempt::Encrypted),
            Policy::Require | Policy::Disable => None,
        }
    }

    /// Whether the policy ever dials or accepts in this mode.
    pub fn permits(self, attempt: Attempt) -> bool {
        match attempt {
            Attempt::Encrypted => self.accepts_mse(),
            Attempt::Plaintext => self.accepts_plaintext_handshake(),
        }
    }

    /// The modes to dial a peer with, in order. A mode that worked for this
    /// peer before goes first when the policy permits it (so a peer that
    /// refused MSE once does not cost a failed attempt on every redial, as
    /// libtorrent remembers); then the policy's own order.
    pub fn dial_order(self, worked_before: Option<Attempt>) -> Vec<Attempt> {
        let mut order = Vec::with_capacity(2);
        if let Some(mode) = worked_before.filter(|m| self.permits(*m)) {
            order.push(mode);
        }
        for mode in [Some(self.first_attempt()), self.fallback()]
            .into_iter()
            .flatten()
        {
            if !order.contains(&mode) {
                order.push(mode);
            }
        }
        order
    }

    /// The `crypto_provide` bits of an outgoing MSE handshake.
    pub fn crypto_provide(self) -> u32 {
        match self {
            Policy::Require => CRYPTO_RC4,
            // `disable` never dials MSE; if asked, offer the least.
            Policy::Disable => CRYPTO_PLAINTEXT,
            Policy::Prefer | Policy::Allow => CRYPTO_RC4 | CRYPTO_PLAINTEXT,
        }
    }

    /// Whether an incoming plain BitTorrent handshake is accepted.
    pub fn accepts_plaintext_handshake(self) -> bool {
        self != Policy::Require
    }

    /// Whether an incoming MSE handshake is accepted.
    pub fn accepts_mse(self) -> bool {
        self != Policy::Disable
    }

    /// The method to answer an initiator's `crypto_provide` with, or `None`
    /// when nothing offered is acceptable.
    pub fn select(self, provided: u32) -> Option<Method> {
        let rc4 = provided & CRYPTO_RC4 != 0;
        let plain = provided & CRYPTO_PLAINTEXT != 0;
        match self {
            Policy::Require => rc4.then_some(Method::Rc4),
            Policy::Prefer | Policy::Allow => {
                if plain {
                    Some(Method::Plaintext)
                } else {
                    rc4.then_some(Method::Rc4)
                }
            }
            Policy::Disable => plain.then_some(Method::Plaintext),
        }
    }

    /// Whether a receiver's `crypto_select` is one method we offered.
    pub(crate) fn check_select(self, selected: u32) -> Option<Method> {
        let offered = self.crypto_provide();
        match selected {
            CRYPTO_RC4 if offered & CRYPTO_RC4 != 0 => Some(Method::Rc4),
            CRYPTO_PLAINTEXT if offered & CRYPTO_PLAINTEXT != 0 => Some(Method::Plaintext),
            _ => None,
        }
    }

    /// The name used on the command line and in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Prefer => "prefer",
            Policy::Require => "require",
            Policy::Allow => "allow",
            Policy::Disable => "disable",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy name that is not one of `prefer|require|allow|disable`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown encryption policy {0:?} (expected prefer, require, allow or disable)")]
pub struct ParsePolicyError(String);

impl FromStr for Policy {
    type Err = ParsePolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "prefer" => Ok(Policy::Prefer),
            "require" => Ok(Policy::Require),
            "allow" => Ok(Policy::Allow),
            "disable" => Ok(Policy::Disable),
            other => Err(ParsePolicyError(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Policy; 4] = [
        Policy::Prefer,
        Policy::Require,
        Policy::Allow,
        Policy::Disable,
    ];

    #[test]
    fn names_round_trip() {
        for p in ALL {
            assert_eq!(p.as_str().parse::<Policy>(), Ok(p));
        }
        assert!("forced".parse::<Policy>().is_err());
        assert_eq!(Policy::default(), Policy::Prefer);
    }

    #[test]
    fn selection_per_policy() {
        let both = CRYPTO_RC4 | CRYPTO_PLAINTEXT;
        assert_eq!(Policy::Prefer.select(both), Some(Method::Plaintext));
        assert_eq!(
            Policy::Prefer.select(CRYPTO_PLAINTEXT),
            Some(Method::Plaintext)
        );
        assert_eq!(Policy::Require.select(both), Some(Method::Rc4));
        assert_eq!(Policy::Require.select(CRYPTO_PLAINTEXT), None);
        assert_eq!(Policy::Allow.select(both), Some(Method::Plaintext));
        assert_eq!(Policy::Allow.select(CRYPTO_RC4), Some(Method::Rc4));
        assert_eq!(Policy::Disable.select(CRYPTO_RC4), None);
        // Unknown bits from a newer peer are ignored, not an error.
        assert_eq!(Policy::Prefer.select(0xF0 | CRYPTO_RC4), Some(Method::Rc4));
        for p in ALL {
            assert_eq!(p.select(0), None);
        }
    }

    #[test]
    fn dial_rules() {
        assert_eq!(Policy::Prefer.first_attempt(), Attempt::Encrypted);
        assert_eq!(Policy::Prefer.fallback(), Some(Attempt::Plaintext));
        assert_eq!(Policy::Require.fallback(), None);
        assert_eq!(Policy::Allow.first_attempt(), Attempt::Plaintext);
        assert_eq!(Policy::Allow.fallback(), Some(Attempt::Encrypted));
        assert_eq!(Policy::Disable.fallback(), None);
        assert!(!Policy::Require.accepts_plaintext_handshake());
        assert!(!Policy::Disable.accepts_mse());
    }

    #[test]
    fn dial_order_puts_what_worked_first_within_the_policy() {
        use Attempt::{Encrypted, Plaintext};
        assert_eq!(Policy::Prefer.dial_order(None), vec![Encrypted, Plaintext]);
        assert_eq!(
            Policy::Prefer.dial_order(Some(Plaintext)),
            vec![Plaintext, Encrypted]
        );
        assert_eq!(Policy::Allow.dial_order(None), vec![Plaintext, Encrypted]);
        assert_eq!(
            Policy::Allow.dial_order(Some(Encrypted)),
            vec![Encrypted, Plaintext]
        );
        assert_eq!(Policy::Require.dial_order(Some(Plaintext)), vec![Encrypted]);
        assert_eq!(Policy::Disable.dial_order(Some(Encrypted)), vec![Plaintext]);
    }

    #[test]
    fn a_receiver_may_only_select_what_was_offered() {
        assert_eq!(Policy::Require.check_select(CRYPTO_PLAINTEXT), None);
        assert_eq!(Policy::Require.check_select(CRYPTO_RC4), Some(Method::Rc4));
        assert_eq!(
            Policy::Prefer.check_select(CRYPTO_RC4 | CRYPTO_PLAINTEXT),
            None
        );
        assert_eq!(
            Policy::Prefer.check_select(CRYPTO_PLAINTEXT),
            Some(Method::Plaintext)
        );
    }
}
