//! `flotilla:plugins@0.1.0` (`wit/flotilla-plugins@0.1.0/`): a placement policy answers a place
//! alone, so its decision carries no reason.

super::version!("../wit/flotilla-plugins@0.1.0", types::Place => decision);

fn decision(place: types::Place) -> PlacementDecision {
    PlacementDecision {
        place: place.into(),
        reason: None,
    }
}
