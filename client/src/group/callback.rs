//! The user's rebalance callback ([`super::GroupConsumer::on_rebalance`]):
//! an async closure stored type-erased, run to completion by the group
//! consumer before the group goes on.

use super::RebalanceEvent;
use std::future::Future;
use std::pin::Pin;

type BoxedFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// An async callback for assignment changes.
pub(crate) struct RebalanceCallback {
    call: Box<dyn FnMut(RebalanceEvent) -> BoxedFuture + Send>,
}

impl RebalanceCallback {
    /// Wraps `f`.
    pub(crate) fn new<F, Fut>(mut f: F) -> Self
    where
        F: FnMut(RebalanceEvent) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        RebalanceCallback {
            call: Box::new(move |event| Box::pin(f(event))),
        }
    }

    /// Runs the callback for `event`; the future completes when it has.
    pub(crate) fn call(&mut self, event: RebalanceEvent) -> BoxedFuture {
        (self.call)(event)
    }
}
