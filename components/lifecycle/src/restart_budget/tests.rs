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

#[tokio::test]
async fn a_lowered_budget_allows_the_next_restart_only_when_enough_have_left_the_window() {
    let db = TestDb::sqlite();
    let store = Store::open(&db.location()).await.unwrap();
    let three = RestartBudget {
        budget: 3,
        window: HOUR,
    };
    for t in [0, 60, 120] {
        let r = three
            .restarts(&store, Service::Grafana, at(t))
            .await
            .unwrap();
        r.record(&store, at(t)).await.unwrap();
    }
    // The budget is lowered to 2 while the window holds 3 restarts: one restart is allowed
    // again only once two of them have left, i.e. when the one at 60 s leaves.
    let two = RestartBudget {
        budget: 2,
        window: HOUR,
    };
    let r = two
        .restarts(&store, Service::Grafana, at(180))
        .await
        .unwrap();
    assert!(r.spent());
    assert_eq!(r.next_allowed(), Some(at(60) + HOUR));
}
