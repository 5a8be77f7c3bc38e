//! Latency distributions of simulated endpoints, sampled from a seeded RNG.

use rand::rngs::SmallRng;
use rand::Rng;

/// A latency distribution in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Latency {
    Const(f64),
    Uniform(f64, f64),
    Exp(f64),
    /// Log-normal with this median and shape σ (heavier tail as σ grows).
    LogNormal {
        median: f64,
        sigma: f64,
    },
}

impl Latency {
    pub fn sample_ms(&self, rng: &mut SmallRng) -> f64 {
        match *self {
            Latency::Const(c) => c,
            Latency::Uniform(a, b) => rng.gen_range(a..=b),
            Latency::Exp(mean) => -mean * (1.0 - rng.gen::<f64>()).ln(),
            Latency::LogNormal { median, sigma } => median * (sigma * std_normal(rng)).exp(),
        }
    }

    /// Parses `10ms`, `uniform:5-15`, `exp:10`, `lognormal:10:0.3` (milliseconds).
    pub fn parse(s: &str) -> Result<Latency, String> {
        let num =
            |x: &str| x.trim().trim_end_matches("ms").parse::<f64>().map_err(|_| format!("bad number `{x}` in `{s}`"));
        let parts: Vec<&str> = s.split(':').collect();
        match parts.as_slice() {
            [c] => Ok(Latency::Const(num(c)?)),
            ["uniform", r] => {
                let (a, b) = r.split_once('-').ok_or(format!("`{s}`: use uniform:A-B"))?;
                Ok(Latency::Uniform(num(a)?, num(b)?))
            }
            ["exp", m] => Ok(Latency::Exp(num(m)?)),
            ["lognormal", m, sg] => Ok(Latency::LogNormal { median: num(m)?, sigma: num(sg)? }),
            _ => Err(format!("unknown latency `{s}` (10ms, uniform:A-B, exp:MEAN, lognormal:MEDIAN:SIGMA)")),
        }
    }
}

/// Box–Muller standard normal.
fn std_normal(rng: &mut SmallRng) -> f64 {
    let u1: f64 = 1.0 - rng.gen::<f64>();
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn parses_and_samples_sensibly() {
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(Latency::parse("12ms"), Ok(Latency::Const(12.0)));
        let ln = Latency::parse("lognormal:10:0.3").unwrap();
        let mut v: Vec<f64> = (0..10_001).map(|_| ln.sample_ms(&mut rng)).collect();
        v.sort_by(f64::total_cmp);
        assert!((v[5000] - 10.0).abs() < 0.3, "median {}", v[5000]);
        let e = Latency::parse("exp:5").unwrap();
        let mean = (0..20_000).map(|_| e.sample_ms(&mut rng)).sum::<f64>() / 20_000.0;
        assert!((mean - 5.0).abs() < 0.2, "mean {mean}");
        assert!(Latency::parse("fast").is_err());
    }
}
