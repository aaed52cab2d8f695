//! Which deploy a rollback undid: the one rule shared by the trust scores ([`crate::trust`]),
//! the DORA metrics ([`crate::metrics`]) and `append rollback`, which records its answer.
//!
//! * A rollback with `undoes_seq` undid the deploy entry with that seq, if that entry comes
//!   before the rollback.
//! * A rollback without `undoes_seq` undid the newest succeeded deploy before it of its `env`
//!   whose `version` equals its `from_version`. When there is none (the version only failed,
//!   or never reached that env), it undid no deploy: blaming the newest deploy of the env
//!   whatever its version would count a failure against a version nobody rolled back.
//!
//! `append rollback` without `--undoes` writes `undoes_seq` from this same rule, so a rollback
//! recorded by the CLI names its deploy explicitly and every reader agrees.

/// What the rule reads of a deploy entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeployRef<'a> {
    /// Entry seq.
    pub seq: u64,
    /// Environment.
    pub env: &'a str,
    /// Version deployed.
    pub version: &'a str,
    /// Whether its status is `succeeded`.
    pub succeeded: bool,
}

/// What the rule reads of a rollback entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollbackRef<'a> {
    /// Entry seq (only deploys before it can have been undone).
    pub seq: u64,
    /// Environment.
    pub env: &'a str,
    /// Version rolled back from.
    pub from_version: &'a str,
    /// The deploy it names, when recorded.
    pub undoes_seq: Option<u64>,
}

/// Position in `deploys` of the deploy `r` undid, if any. `deploys` are deploy entries in seq
/// order, read through `view` (each caller keeps its own record of a deploy).
pub fn undone<'a, T>(
    r: &RollbackRef<'_>,
    deploys: &'a [T],
    view: impl Fn(&'a T) -> DeployRef<'a>,
) -> Option<usize> {
    match r.undoes_seq {
        Some(u) if u < r.seq => deploys.binary_search_by_key(&u, |d| view(d).seq).ok(),
        Some(_) => None,
        // Searching from the newest end: the deploy undone is almost always a recent one.
        None => deploys.iter().rposition(|d| {
            let d = view(d);
            d.seq < r.seq && d.succeeded && d.env == r.env && d.version == r.from_version
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(
        seq: u64,
        env: &'static str,
        version: &'static str,
        succeeded: bool,
    ) -> DeployRef<'static> {
        DeployRef {
            seq,
            env,
            version,
            succeeded,
        }
    }

    fn r(seq: u64, from_version: &'static str, undoes_seq: Option<u64>) -> RollbackRef<'static> {
        RollbackRef {
            seq,
            env: "prod",
            from_version,
            undoes_seq,
        }
    }

    #[test]
    fn the_rule() {
        let deploys = [
            d(0, "prod", "v1", true),
            d(1, "prod", "v2", true),
            d(2, "stage", "v3", true),
            d(3, "prod", "v3", false),
            d(4, "prod", "v1", true),
            d(6, "prod", "v2", true),
        ];
        let find = |rb: RollbackRef<'_>| undone(&rb, &deploys, |d| *d);
        // By version: the newest succeeded one of the env before the rollback.
        assert_eq!(find(r(5, "v1", None)), Some(4));
        assert_eq!(find(r(5, "v2", None)), Some(1));
        assert_eq!(find(r(7, "v2", None)), Some(5));
        // A version that only failed in the env, or only ran elsewhere: nothing.
        assert_eq!(find(r(5, "v3", None)), None);
        assert_eq!(find(r(5, "v9", None)), None);
        // By seq, whatever the version or status, but never a later deploy.
        assert_eq!(find(r(5, "v1", Some(3))), Some(3));
        assert_eq!(find(r(5, "v1", Some(6))), None);
        assert_eq!(find(r(5, "v1", Some(99))), None);
        let none: [DeployRef<'_>; 0] = [];
        assert_eq!(undone(&r(5, "v1", None), &none, |d| *d), None);
    }
}
