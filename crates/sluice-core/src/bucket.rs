//! A token bucket (rate limits, accept-rate limits): `rate` tokens per second refill up to
//! `burst`; each admitted event takes one. Time is an input; the state is two numbers.

/// Tokens and the time they were last counted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenBucket {
    tokens: f64,
    last_ns: u64,
}

impl TokenBucket {
    /// A full bucket at `now_ns`.
    pub fn full(burst: f64, now_ns: u64) -> Self {
        TokenBucket { tokens: burst, last_ns: now_ns }
    }

    /// Takes one token if there is one; refills first.
    pub fn take(&mut self, now_ns: u64, rate_per_sec: f64, burst: f64) -> bool {
        let elapsed = now_ns.saturating_sub(self.last_ns) as f64 / 1e9;
        self.tokens = (self.tokens + elapsed * rate_per_sec).min(burst);
        self.last_ns = now_ns;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Seconds until a token is available (for Retry-After).
    pub fn wait_secs(&self, rate_per_sec: f64) -> f64 {
        if self.tokens >= 1.0 || rate_per_sec <= 0.0 {
            0.0
        } else {
            (1.0 - self.tokens) / rate_per_sec
        }
    }
}

/// Parses `"10/s"`, `"600/m"`, `"3600/h"` into events per second.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let (n, unit) = s.split_once('/').ok_or_else(|| format!("`{s}` is not a rate (like \"10/s\")"))?;
    let n: f64 = n.trim().parse().map_err(|_| format!("`{n}` is not a number"))?;
    let per = match unit.trim() {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        u => return Err(format!("unknown rate unit `{u}` (s, m or h)")),
    };
    if n <= 0.0 {
        return Err("a rate must be above 0".into());
    }
    Ok(n / per)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn a_burst_then_the_rate() {
        let mut b = TokenBucket::full(3.0, 0);
        assert!((0..3).all(|_| b.take(0, 2.0, 3.0)));
        assert!(!b.take(0, 2.0, 3.0), "burst spent");
        assert!((b.wait_secs(2.0) - 0.5).abs() < 1e-9);
        assert!(b.take(S / 2, 2.0, 3.0), "2/s refills one token in 500 ms");
        assert!(!b.take(S / 2, 2.0, 3.0));
        assert!(b.take(100 * S, 2.0, 3.0) && b.take(100 * S, 2.0, 3.0) && b.take(100 * S, 2.0, 3.0));
        assert!(!b.take(100 * S, 2.0, 3.0), "refill is capped at the burst");
    }

    #[test]
    fn rates_parse() {
        assert_eq!(parse_rate("10/s"), Ok(10.0));
        assert_eq!(parse_rate("600/m"), Ok(10.0));
        assert!(parse_rate("10").is_err() && parse_rate("0/s").is_err() && parse_rate("5/d").is_err());
    }
}
