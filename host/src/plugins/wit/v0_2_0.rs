//! `flotilla:plugins@0.2.0` (`wit/flotilla-plugins@0.2.0/`): 0.1.0, and a placement policy may
//! say why it chose a place.

super::version!("../wit/flotilla-plugins@0.2.0", types::PlacementDecision => decision);

fn decision(d: types::PlacementDecision) -> PlacementDecision {
    PlacementDecision {
        place: d.place.into(),
        reason: d.reason.filter(|r| !r.trim().is_empty()),
    }
}
