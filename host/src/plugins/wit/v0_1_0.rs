//! `flotilla:plugins@0.1.0` (`wit/flotilla-plugins@0.1.0/`): a placement policy answers a place
//! alone, so its decision carries no reason.

// Its worlds export their one function bare: it is called on the world itself.
super::version!("../wit/flotilla-plugins@0.1.0", types::Place => decision);

fn decision(place: types::Place) -> PlacementDecision {
    PlacementDecision {
        place: place.into(),
        reason: None,
    }
}
