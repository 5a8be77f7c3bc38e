//! Admin split overrides (blue/green switches, canary steps set through the API) applied
//! to a config: pure, so a reload can re-apply them to the new file's routes.

/// Replaces the weights of split route `route` of `listener`; the clusters must be the same.
pub fn apply_split(
    cfg: &mut sluice_config::Config,
    listener: &str,
    route: usize,
    weights: &[(String, u32)],
) -> Result<(), String> {
    let l = cfg.listeners.iter_mut().find(|l| l.name == listener).ok_or_else(|| format!("no listener {listener}"))?;
    let r = l.routes.get_mut(route).ok_or_else(|| format!("listener {listener} has no route {route}"))?;
    let sluice_config::RouteTarget::Split(parts) = &mut r.target else {
        return Err(format!("route {route} of {listener} is not a split"));
    };
    let mut names: Vec<&String> = parts.iter().map(|(c, _)| c).collect();
    let mut given: Vec<&String> = weights.iter().map(|(c, _)| c).collect();
    names.sort();
    given.sort();
    if names != given {
        return Err(format!("the split is over {names:?}; give a weight for each of them"));
    }
    if weights.iter().all(|(_, w)| *w == 0) {
        return Err("weights sum to 0".into());
    }
    *parts = weights.to_vec();
    Ok(())
}
