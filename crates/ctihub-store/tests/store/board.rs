use ctihub_domain::call::{CallData, CallState, Direction};

use crate::helpers::on_each_backend;

#[tokio::test]
async fn the_board_lists_ringing_and_talking_calls_since_a_time_newest_first() {
    on_each_backend("DE", async |store| {
        let at = |state: CallState, started_at: i64| {
            let mut data = CallData::new(Direction::Inbound, "0301111111", "4930600", started_at);
            data.state = state;
            data
        };
        let stale = store.create_call(&at(CallState::Ringing, 1_000), &[], None).await.unwrap();
        let ringing = store.create_call(&at(CallState::Ringing, 5_000), &[], None).await.unwrap();
        let talking = store.create_call(&at(CallState::InProgress, 6_000), &[], None).await.unwrap();
        store.create_call(&at(CallState::Ended, 7_000), &[], None).await.unwrap();

        let live = store.live_calls(5_000, 50).await.unwrap();
        assert_eq!(live.iter().map(|c| c.id).collect::<Vec<_>>(), vec![talking.id, ringing.id]);
        let all = store.live_calls(0, 50).await.unwrap();
        assert_eq!(all.iter().map(|c| c.id).collect::<Vec<_>>(), vec![talking.id, ringing.id, stale.id]);
        assert_eq!(store.live_calls(0, 1).await.unwrap().len(), 1);

        // Hanging up takes a call off the board.
        let mut ended = talking.data.clone();
        ended.state = CallState::Ended;
        store.update_call(talking.id, &ended, None).await.unwrap();
        assert_eq!(
            store.live_calls(5_000, 50).await.unwrap().iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![ringing.id]
        );
    })
    .await;
}
