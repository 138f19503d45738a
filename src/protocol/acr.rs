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

/// The levels this deployment can reach with local accounts alone: a password, and a
/// password with a second factor. E-ID levels need an upstream broker.
pub const LOCAL_REACHABLE: &[&str] = &[LOCAL_BASIC, LOCAL_STAFF];

/// When `urn:vn:eid:loa:2:fresh` is demanded and the request sets no `max_age`, the
/// authentication must be at most this old (s).
pub const FRESH_MAX_AGE: i64 = 300;

/// How demanding a level is, for choosing the one level to ask an upstream for (not for
/// satisfaction, which is [`satisfies`]): basic < loa1 < staff < loa2 < loa2:fresh.
pub fn rank(value: &str) -> u8 {
    match value {
        LOCAL_BASIC => 0,
        EID_LOA1 => 1,
        LOCAL_STAFF => 2,
        EID_LOA2 => 3,
        EID_LOA2_FRESH => 4,
        _ => 0,
    }
}

/// What a request demands of the authentication, once the client's policy is applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Demand {
    /// Essential `acr` values (the `claims` parameter): one of them must be achieved.
    pub essential: Vec<&'static str>,
    /// Voluntary values (`acr_values`, or the client's `default_acr_values`), in
    /// preference order: a session below all of them is not reused, but an
    /// authentication that cannot reach them still proceeds.
    pub voluntary: Vec<&'static str>,
    /// The client's minimum: always enforced, whatever the request says.
    pub minimum: Option<&'static str>,
}

impl Demand {
    /// Whether `achieved` meets the hard part: the client minimum and, when any is
    /// essential, one essential value.
    pub fn hard_ok(&self, achieved: &str, fresh: bool) -> bool {
        self.minimum.is_none_or(|m| satisfies(achieved, fresh, m))
            && (self.essential.is_empty() || self.essential.iter().any(|e| satisfies(achieved, fresh, e)))
    }

    /// Whether an existing session at `achieved` may be reused: the hard part, and one
    /// voluntary value when any is asked for (no downgrade via SSO reuse).
    pub fn session_ok(&self, achieved: &str, fresh: bool) -> bool {
        self.hard_ok(achieved, fresh)
            && (self.voluntary.is_empty() || self.voluntary.iter().any(|v| satisfies(achieved, fresh, v)))
    }

    /// Whether some level in `reachable` (what this deployment can achieve) meets the
    /// hard part.
    pub fn reachable(&self, reachable: &[&str]) -> bool {
        reachable.iter().any(|l| self.hard_ok(l, true))
    }

    /// The strongest level demanded (minimum, essential and voluntary values), the one
    /// to ask an upstream identity provider for; `None` when nothing is demanded.
    pub fn required(&self) -> Option<&'static str> {
        self.essential.iter().chain(self.voluntary.iter()).chain(self.minimum.iter()).copied().max_by_key(|v| rank(v))
    }

    /// Whether any demanded value is `urn:vn:eid:loa:2:fresh`.
    pub fn wants_fresh(&self) -> bool {
        self.essential.iter().chain(self.voluntary.iter()).chain(self.minimum.iter()).any(|v| *v == EID_LOA2_FRESH)
    }

    /// The `acr` to report for an authentication at `achieved`: the first requested
    /// value it satisfies (essential first, then voluntary), unless that would fall below
    /// the client minimum; else what was achieved. Never a value that was not reached.
    pub fn report(&self, achieved: &'static str, fresh: bool) -> &'static str {
        let requested: Vec<&'static str> = self.essential.iter().chain(self.voluntary.iter()).copied().collect();
        let r = report(achieved, fresh, &requested);
        if self.minimum.is_some_and(|m| !satisfies(r, fresh, m)) { achieved } else { r }
    }
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

    #[test]
    fn demand_table() {
        let d = |essential: &[&'static str], voluntary: &[&'static str], minimum: Option<&'static str>| Demand {
            essential: essential.to_vec(),
            voluntary: voluntary.to_vec(),
            minimum,
        };
        // (demand, achieved, fresh, hard_ok, session_ok)
        let cases: Vec<(Demand, &str, bool, bool, bool)> = vec![
            (d(&[], &[], None), LOCAL_BASIC, true, true, true),
            // The client minimum holds even when the request asks for nothing.
            (d(&[], &[], Some(LOCAL_STAFF)), LOCAL_BASIC, true, false, false),
            (d(&[], &[], Some(LOCAL_STAFF)), LOCAL_STAFF, true, true, true),
            (d(&[], &[], Some(EID_LOA1)), EID_LOA2, true, true, true),
            // Voluntary values: a lower session is not reused, but the result is not refused.
            (d(&[], &[LOCAL_STAFF], None), LOCAL_BASIC, true, true, false),
            (d(&[], &[LOCAL_STAFF, LOCAL_BASIC], None), LOCAL_BASIC, true, true, true),
            // Essential values: one of them.
            (d(&[EID_LOA2, LOCAL_STAFF], &[], None), LOCAL_STAFF, true, true, true),
            (d(&[EID_LOA2], &[], None), EID_LOA1, true, false, false),
            (d(&[EID_LOA2_FRESH], &[], None), EID_LOA2, false, false, false),
            // Essential and minimum together.
            (d(&[LOCAL_BASIC], &[], Some(LOCAL_STAFF)), LOCAL_BASIC, true, false, false),
        ];
        for (demand, achieved, fresh, hard, session) in cases {
            assert_eq!(demand.hard_ok(achieved, fresh), hard, "{demand:?} hard vs {achieved}");
            assert_eq!(demand.session_ok(achieved, fresh), session, "{demand:?} session vs {achieved}");
        }
    }

    #[test]
    fn reachability_required_level_and_report() {
        let staff_min = Demand { minimum: Some(LOCAL_STAFF), ..Default::default() };
        assert!(staff_min.reachable(LOCAL_REACHABLE));
        let eid = Demand { essential: vec![EID_LOA2], ..Default::default() };
        assert!(!eid.reachable(LOCAL_REACHABLE), "e-ID levels need an upstream");
        assert!(eid.reachable(&[LOCAL_BASIC, EID_LOA1, EID_LOA2]));
        let eid_min = Demand { minimum: Some(EID_LOA1), ..Default::default() };
        assert!(!eid_min.reachable(LOCAL_REACHABLE));
        // Voluntary values never make a request unreachable.
        assert!(Demand { voluntary: vec![EID_LOA2], ..Default::default() }.reachable(LOCAL_REACHABLE));

        assert_eq!(Demand::default().required(), None);
        let mixed = Demand { essential: vec![EID_LOA1], voluntary: vec![LOCAL_BASIC], minimum: Some(EID_LOA2) };
        assert_eq!(mixed.required(), Some(EID_LOA2), "the minimum is included");
        let fresh = Demand { essential: vec![EID_LOA2_FRESH], voluntary: vec![], minimum: Some(EID_LOA1) };
        assert_eq!(fresh.required(), Some(EID_LOA2_FRESH));
        assert!(fresh.wants_fresh());
        assert!(!mixed.wants_fresh());

        // A requested weaker value is reported, unless it falls below the minimum.
        let basic_pref = Demand { voluntary: vec![LOCAL_BASIC], ..Default::default() };
        assert_eq!(basic_pref.report(LOCAL_STAFF, true), LOCAL_BASIC);
        let with_min = Demand { voluntary: vec![LOCAL_BASIC], minimum: Some(LOCAL_STAFF), ..Default::default() };
        assert_eq!(with_min.report(LOCAL_STAFF, true), LOCAL_STAFF);
        assert_eq!(Demand::default().report(LOCAL_BASIC, true), LOCAL_BASIC);
        assert_eq!(
            Demand { voluntary: vec![LOCAL_STAFF], ..Default::default() }.report(LOCAL_BASIC, true),
            LOCAL_BASIC,
            "never reports a level that was not reached"
        );
    }
}
