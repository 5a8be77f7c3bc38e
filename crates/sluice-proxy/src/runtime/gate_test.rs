//! Unit tests of `gate.rs`.

use super::*;

#[test]
fn per_ip_and_total_limits() {
    let g = Arc::new(Gate::default());
    let a: IpAddr = "10.0.0.1".parse().unwrap();
    let b: IpAddr = "10.0.0.2".parse().unwrap();
    let l = Limits { max_total: 3, max_per_ip: 2, rate_per_ip: None };
    let x1 = g.enter(a, l, 0).unwrap();
    let _x2 = g.enter(a, l, 0).unwrap();
    assert_eq!(g.enter(a, l, 0).err(), Some(Refused::PerIp));
    let _y1 = g.enter(b, l, 0).unwrap();
    assert_eq!(g.enter(b, l, 0).err(), Some(Refused::Total));
    drop(x1);
    assert!(g.enter(a, l, 0).is_ok(), "a slot came back");
    assert_eq!(g.per_ip.lock().unwrap().len(), 2);
}

#[test]
fn accept_rate_per_ip() {
    let g = Arc::new(Gate::default());
    let a: IpAddr = "10.0.0.1".parse().unwrap();
    let l = Limits { max_total: 0, max_per_ip: 0, rate_per_ip: Some(2.0) };
    assert!(g.enter(a, l, 0).is_ok() && g.enter(a, l, 0).is_ok());
    assert_eq!(g.enter(a, l, 0).err(), Some(Refused::Rate), "two per second, burst two");
    assert!(g.enter("10.0.0.2".parse().unwrap(), l, 0).is_ok(), "another address has its own bucket");
    assert!(g.enter(a, l, 500_000_000).is_ok(), "a token back after 500 ms");
}
