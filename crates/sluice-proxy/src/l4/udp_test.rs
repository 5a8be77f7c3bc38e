//! Unit tests of `udp.rs`.

use super::*;

#[test]
fn flows_are_pinned_and_only_a_down_endpoints_flows_move() {
    let eps: Vec<Arc<EndpointState>> =
        (0..4).map(|i| Arc::new(EndpointState::new(format!("10.0.0.{i}:53").parse().unwrap(), 1, false))).collect();
    let clients: Vec<SocketAddr> = (0..200).map(|p| format!("192.0.2.7:{}", 1000 + p).parse().unwrap()).collect();
    let before: Vec<usize> = clients.iter().map(|c| pick_by_hash(&eps, flow_key(*c)).unwrap()).collect();
    let mut used = before.clone();
    used.sort_unstable();
    used.dedup();
    assert_eq!(used.len(), 4, "flows spread over every endpoint");
    eps[2].set_health(sluice_core::Health::Unhealthy);
    for (c, was) in clients.iter().zip(before) {
        let now = pick_by_hash(&eps, flow_key(*c)).unwrap();
        assert_ne!(now, 2);
        if was != 2 {
            assert_eq!(now, was);
        }
    }
}
