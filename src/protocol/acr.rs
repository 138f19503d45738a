//! Authentication context classes (DESIGN §4): the `acr` values we issue, the aliases we
//! accept, and which achieved context satisfies which requested one. A session at a
//! lower level never satisfies a higher request.

/// National e-ID level 1 (or a local verification of the same strength).
pub const EID_LOA1: &str = "urn:vn:eid:loa:1";
/// National e-ID level 2 (in-person proofed).
pub const EID_LOA2: &str = "urn:vn:eid:loa:2";
/// Level 2 with a re-authentication inside `max_age`.
pub const EID_LOA2_FRESH: &str = "urn:vn:eid:loa:2:fresh";
/// A local account signed in with its password alone.
pub const LOCAL_BASIC: &str = "urn:vn:local:basic";
/// An official's local account with a second factor.
pub const LOCAL_STAFF: &str = "urn:vn:local:staff";

/// Values published in `acr_values_supported`.
pub const SUPPORTED: &[&str] = &[EID_LOA1, EID_LOA2, EID_LOA2_FRESH, LOCAL_BASIC, LOCAL_STAFF];

/// Maps input aliases (`LoA1`, `LoA2`, as the national portal writes them) to our URNs;
/// `None` for values we do not know.
pub fn canonical(value: &str) -> Option<&'static str> {
    match value {
        "LoA1" | "loa1" => Some(EID_LOA1),
        "LoA2" | "loa2" => Some(EID_LOA2),
        v => SUPPORTED.iter().copied().find(|s| *s == v),
    }
}

/// Whether an authentication that achieved `achieved` (with `fresh` true when it happened
/// inside the request's `max_age`, or just now) satisfies a request for `requested`.
pub fn satisfies(achieved: &str, fresh: bool, requested: &str) -> bool {
    match requested {
        LOCAL_BASIC => SUPPORTED.contains(&achieved),
        EID_LOA1 => matches!(achieved, EID_LOA1 | EID_LOA2 | EID_LOA2_FRESH),
        EID_LOA2 => matches!(achieved, EID_LOA2 | EID_LOA2_FRESH),
        EID_LOA2_FRESH => matches!(achieved, EID_LOA2 | EID_LOA2_FRESH) && fresh,
        LOCAL_STAFF => achieved == LOCAL_STAFF,
        _ => false,
    }
}

/// The `acr` to report for an authentication: the first requested value it satisfies
/// (requests list them in preference order), else what was achieved.
pub fn report(achieved: &'static str, fresh: bool, requested: &[&'static str]) -> &'static str {
    requested.iter().copied().find(|r| satisfies(achieved, fresh, r)).unwrap_or(achieved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn satisfaction_table() {
        let cases: &[(&str, bool, &str, bool)] = &[
            (LOCAL_BASIC, false, LOCAL_BASIC, true),
            (LOCAL_BASIC, true, EID_LOA1, false),
            (LOCAL_BASIC, true, LOCAL_STAFF, false),
            (LOCAL_STAFF, false, LOCAL_BASIC, true),
            (LOCAL_STAFF, false, LOCAL_STAFF, true),
            (EID_LOA1, false, EID_LOA2, false),
            (EID_LOA2, false, EID_LOA1, true),
            (EID_LOA2, false, EID_LOA2_FRESH, false),
            (EID_LOA2, true, EID_LOA2_FRESH, true),
            (EID_LOA1, true, EID_LOA2_FRESH, false),
            (EID_LOA2, true, "urn:unknown", false),
        ];
        for (achieved, fresh, requested, ok) in cases {
            assert_eq!(satisfies(achieved, *fresh, requested), *ok, "{achieved} fresh={fresh} vs {requested}");
        }
        assert_eq!(canonical("LoA2"), Some(EID_LOA2));
        assert_eq!(canonical("urn:vn:local:basic"), Some(LOCAL_BASIC));
        assert_eq!(canonical("gold"), None);
        assert_eq!(report(LOCAL_BASIC, true, &[LOCAL_STAFF, LOCAL_BASIC]), LOCAL_BASIC);
    }
}
