//! `pick()` cost for every balancer with 10 and 1,000 endpoints (target: ≤ 50 ns).
//! Each iteration feeds fresh randomness and a fresh hash key, as the proxy does.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use sluice_core::balance::{Balance, Balancer, PickCtx};
use sluice_core::EndpointState;

fn endpoints(n: usize) -> Vec<Arc<EndpointState>> {
    (0..n)
        .map(|i| {
            Arc::new(EndpointState::new(
                format!("10.{}.{}.{}:80", i / 65536, (i / 256) % 256, i % 256).parse().unwrap(),
                1 + (i % 3) as u32,
                false,
            ))
        })
        .collect()
}

fn splitmix(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn picks(c: &mut Criterion) {
    let mut g = c.benchmark_group("pick");
    for n in [10usize, 1000] {
        let eps = endpoints(n);
        for &kind in Balance::ALL {
            let b = Balancer::build(kind, eps.clone());
            let mut s = 42u64;
            g.bench_with_input(BenchmarkId::new(kind.name(), n), &n, |bench, _| {
                bench.iter(|| {
                    let ctx = PickCtx {
                        r1: splitmix(&mut s),
                        r2: splitmix(&mut s),
                        hash: Some(splitmix(&mut s)),
                        now_ns: 1_000_000,
                    };
                    black_box(b.pick(black_box(&ctx)))
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, picks);
criterion_main!(benches);
