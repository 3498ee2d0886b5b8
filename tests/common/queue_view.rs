//! Reading the dashboard's queue view (`GET /queue/state`) in tests.

use serde_json::Value;

/// The queue ids of one of the view's lists, in order.
pub fn queue_ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("a queue list is an array")
        .iter()
        .map(|i| i["queue_id"].as_str().expect("every item has a queue_id"))
        .collect()
}
