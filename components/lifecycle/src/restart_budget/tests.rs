use std::time::{Duration, SystemTime, UNIX_EPOCH};

use catalog::Service;
use store::Store;
use store::test_support::TestDb;

use super::RestartBudget;

const HOUR: Duration = Duration::from_secs(3600);

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

#[tokio::test]
async fn the_budget_is_spent_per_service_within_a_sliding_window() {
    let db = TestDb::sqlite();
    let store = Store::open(&db.location()).await.unwrap();
    let b = RestartBudget {
        budget: 2,
        window: HOUR,
    };
    let r = b.restarts(&store, Service::RabbitMq, at(0)).await.unwrap();
    assert!(!r.spent());
    assert_eq!(r.next_allowed(), None);
    assert_eq!(r.record(&store, at(0)).await.unwrap(), 1);
    let r = b.restarts(&store, Service::RabbitMq, at(60)).await.unwrap();
    assert!(!r.spent());
    assert_eq!(r.record(&store, at(60)).await.unwrap(), 2);

    let r = b
        .restarts(&store, Service::RabbitMq, at(120))
        .await
        .unwrap();
    assert!(r.spent());
    assert_eq!(r.count(), 2);
    assert_eq!(r.next_allowed(), Some(at(0) + HOUR));
    // Per service: grafana's budget is untouched.
    let g = b.restarts(&store, Service::Grafana, at(120)).await.unwrap();
    assert!(!g.spent());
    // The first restart leaves the window: one is allowed again.
    let r = b
        .restarts(&store, Service::RabbitMq, at(3600))
        .await
        .unwrap();
    assert_eq!(r.count(), 1);
    assert!(!r.spent());
}
