use std::time::Duration;

use tokio::time::{sleep, Instant};

use super::{within, SpareTimer};

#[tokio::test(start_paused = true)]
async fn the_future_wins_before_the_deadline_and_loses_after() {
    let spare = SpareTimer::default();
    let t0 = Instant::now();
    assert_eq!(
        within(&spare, t0 + Duration::from_secs(2), async {
            sleep(Duration::from_secs(1)).await;
            7
        })
        .await,
        Some(7)
    );
    let t1 = Instant::now();
    let late = within(&spare, t1 + Duration::from_secs(2), async {
        sleep(Duration::from_secs(3)).await;
        8
    })
    .await;
    assert_eq!(late, None);
    assert_eq!(Instant::now() - t1, Duration::from_secs(2), "gave up at the deadline, not before or after");
}

#[tokio::test(start_paused = true)]
async fn a_reused_timer_moved_later_does_not_fire_at_its_old_deadline() {
    let spare = SpareTimer::default();
    let t0 = Instant::now();
    // First request: deadline at 1 s, answered at once; the timer stays registered for 1 s.
    assert_eq!(within(&spare, t0 + Duration::from_secs(1), async { 1 }).await, Some(1));
    // Second request: deadline at 10 s, answer after 5 s — past the first deadline.
    let got = within(&spare, t0 + Duration::from_secs(10), async {
        sleep(Duration::from_secs(5)).await;
        2
    })
    .await;
    assert_eq!(got, Some(2));
    // Third: the deadline moved earlier than the timer's registered one still holds.
    let t1 = Instant::now();
    let got = within(&spare, t1 + Duration::from_millis(100), async {
        sleep(Duration::from_secs(3)).await;
        3
    })
    .await;
    assert_eq!(got, None);
    assert_eq!(Instant::now() - t1, Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn concurrent_requests_each_get_their_own_deadline() {
    let spare = SpareTimer::default();
    let t0 = Instant::now();
    let a = within(&spare, t0 + Duration::from_secs(1), async {
        sleep(Duration::from_secs(5)).await;
        'a'
    });
    let b = within(&spare, t0 + Duration::from_secs(10), async {
        sleep(Duration::from_secs(2)).await;
        'b'
    });
    assert_eq!(tokio::join!(a, b), (None, Some('b')));
}
