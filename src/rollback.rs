//! Which deploy a rollback undid: the one rule shared by the trust scores ([`crate::trust`]),
//! the DORA metrics ([`crate::metrics`]) and the append path, which records its answer.
//!
//! A rollback undoes a deployment, succeeded or failed (a failed one can be rolled back too:
//! its half-applied change is taken out), of its own env, recorded before it:
//!
//! * With `undoes_seq`: the deploy entry with that seq, if it is such a deployment. Anything
//!   else (a later entry, another env, a `started` step, not a deploy) undid nothing; the
//!   append path refuses to record it ([`crate::flow::attribution`]), for every way an entry
//!   comes in (flags, `--body`, `--batch`, the service).
//! * Without `undoes_seq`: the newest such deployment whose `version` equals the rollback's
//!   `from_version`: the version rolled back *from*, never the one rolled back *to*. When
//!   there is none, it undid no deploy: blaming the newest deploy of the env whatever its
//!   version would count a failure against a version nobody rolled back.
//!
//! The append path writes `undoes_seq` from this same rule when a rollback has none, so a
//! recorded rollback names its deploy explicitly and every reader agrees.

/// What the rule reads of a deploy entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeployRef<'a> {
    /// Entry seq.
    pub seq: u64,
    /// Environment.
    pub env: &'a str,
    /// Version deployed.
    pub version: &'a str,
    /// Whether it is a deployment: status `succeeded` or `failed` (not a `started` step).
    pub terminal: bool,
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
        Some(u) if u < r.seq => deploys
            .binary_search_by_key(&u, |d| view(d).seq)
            .ok()
            .filter(|&i| {
                deploys
                    .get(i)
                    .map(&view)
                    .is_some_and(|d| d.terminal && d.env == r.env)
            }),
        Some(_) => None,
        // Searching from the newest end: the deploy undone is almost always a recent one.
        None => deploys.iter().rposition(|d| {
            let d = view(d);
            d.seq < r.seq && d.terminal && d.env == r.env && d.version == r.from_version
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(seq: u64, env: &'static str, version: &'static str, terminal: bool) -> DeployRef<'static> {
        DeployRef {
            seq,
            env,
            version,
            terminal,
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
        // (a `started` step is not terminal; a failed deploy is)
        let deploys = [
            d(0, "prod", "v1", true),
            d(1, "prod", "v2", true),
            d(2, "stage", "v3", true),
            d(3, "prod", "v3", true),
            d(4, "prod", "v1", true),
            d(6, "prod", "v2", true),
            d(8, "prod", "v4", false),
        ];
        let find = |rb: RollbackRef<'_>| undone(&rb, &deploys, |d| *d);
        // By version rolled back from: the newest deployment of the env before the rollback.
        assert_eq!(find(r(5, "v1", None)), Some(4));
        assert_eq!(find(r(5, "v2", None)), Some(1));
        assert_eq!(find(r(7, "v2", None)), Some(5));
        // v3 ran in stage and failed in prod (seq 3): the rollback from v3 in prod undid seq 3.
        assert_eq!(find(r(5, "v3", None)), Some(3));
        // A version that never reached the env, or only as a `started` step: nothing.
        assert_eq!(find(r(5, "v9", None)), None);
        assert_eq!(find(r(9, "v4", None)), None);
        // By seq, whatever the version or status, but never a later deploy, another env's
        // deploy, a `started` step, or a seq that is no deploy.
        assert_eq!(find(r(5, "v1", Some(3))), Some(3));
        assert_eq!(find(r(5, "v1", Some(6))), None);
        assert_eq!(find(r(5, "v1", Some(2))), None);
        assert_eq!(find(r(9, "v1", Some(8))), None);
        assert_eq!(find(r(9, "v1", Some(7))), None);
        assert_eq!(find(r(5, "v1", Some(99))), None);
        let none: [DeployRef<'_>; 0] = [];
        assert_eq!(undone(&r(5, "v1", None), &none, |d| *d), None);
    }
}
