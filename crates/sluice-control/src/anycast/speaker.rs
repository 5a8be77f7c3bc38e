//! The BGP speaker sluice feeds, behind a small trait so BIRD or GoBGP can be added and
//! unit tests can read the commands with no daemon. `ExaBgp` writes ExaBGP 4.2's text API:
//! `announce route P next-hop N [as-path [...]] [community [...]]` and
//! `withdraw route P next-hop N`. ExaBGP sends an explicit `as-path` as given (its own AS is
//! added only when none is given), so a degraded route carries `local_as` 1 + prepend times.

use serde_json::Value;

/// One route as the admin API's `GET /anycast` shows it, reduced to what a speaker needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub prefix: String,
    /// "announced", "degraded" or "withdrawn".
    pub state: String,
    pub as_path: Vec<u64>,
    pub communities: Vec<String>,
}

impl Route {
    /// The routes of a `GET /anycast` document.
    pub fn all_of(view: &Value) -> Vec<Route> {
        let strs =
            |v: &Value| v.as_array().into_iter().flatten().filter_map(|x| x.as_str().map(String::from)).collect();
        view["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| Route {
                prefix: r["prefix"].as_str().unwrap_or_default().to_string(),
                state: r["state"].as_str().unwrap_or("withdrawn").to_string(),
                as_path: r["as_path"].as_array().into_iter().flatten().filter_map(Value::as_u64).collect(),
                communities: strs(&r["communities"]),
            })
            .collect()
    }
}

/// Turns a route into the speaker's command.
pub trait Speaker {
    fn announce(&self, r: &Route, next_hop: &str) -> String;
    fn withdraw(&self, prefix: &str, next_hop: &str) -> String;

    /// The command that puts `r` in its state.
    fn command(&self, r: &Route, next_hop: &str) -> String {
        if r.state == "withdrawn" {
            self.withdraw(&r.prefix, next_hop)
        } else {
            self.announce(r, next_hop)
        }
    }
}

pub struct ExaBgp;

impl Speaker for ExaBgp {
    fn announce(&self, r: &Route, next_hop: &str) -> String {
        let mut line = format!("announce route {} next-hop {next_hop}", r.prefix);
        if !r.as_path.is_empty() {
            let path: Vec<String> = r.as_path.iter().map(u64::to_string).collect();
            line.push_str(&format!(" as-path [ {} ]", path.join(" ")));
        }
        if !r.communities.is_empty() {
            line.push_str(&format!(" community [ {} ]", r.communities.join(" ")));
        }
        line
    }

    fn withdraw(&self, prefix: &str, next_hop: &str) -> String {
        format!("withdraw route {prefix} next-hop {next_hop}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exabgp_lines_carry_the_prepends_and_communities_only_when_degraded() {
        let view = serde_json::json!({ "routes": [
            { "prefix": "203.0.113.10/32", "state": "announced", "as_path": [], "communities": [] },
            { "prefix": "203.0.113.11/32", "state": "degraded", "as_path": [65000, 65000, 65000, 65000], "communities": ["65000:100"] },
            { "prefix": "203.0.113.12/32", "state": "withdrawn", "as_path": [], "communities": [] },
        ]});
        let lines: Vec<String> = Route::all_of(&view).iter().map(|r| ExaBgp.command(r, "self")).collect();
        assert_eq!(
            lines,
            [
                "announce route 203.0.113.10/32 next-hop self",
                "announce route 203.0.113.11/32 next-hop self as-path [ 65000 65000 65000 65000 ] community [ 65000:100 ]",
                "withdraw route 203.0.113.12/32 next-hop self",
            ]
        );
    }
}
