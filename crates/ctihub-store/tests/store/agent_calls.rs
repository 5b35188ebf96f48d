use ctihub_domain::call::{CallData, Direction, ExternalRef};
use ctihub_domain::ticket::NewTicket;
use ctihub_domain::user::{NewUser, Role};

use crate::helpers::on_each_backend;

#[tokio::test]
async fn an_agents_untied_calls_from_one_source_oldest_first() {
    on_each_backend("DE", async |store| {
        let anna = store.create_user(NewUser::new(Role::Agent, "Anna")).await.unwrap();
        let ben = store.create_user(NewUser::new(Role::Agent, "Ben")).await.unwrap();
        let carl = store.create_user(NewUser::new(Role::EndUser, "Carl")).await.unwrap();
        let call = |agent, ticket| {
            let mut data = CallData::new(Direction::Inbound, "+4930123", "", 0);
            data.agent_id = Some(agent);
            data.ticket_id = ticket;
            data
        };
        let ticket = store
            .create_ticket(NewTicket { subject: "s".into(), requester_id: carl.id, ..Default::default() })
            .await
            .unwrap();
        let first = store.create_call(&call(anna.id, None), &[ExternalRef::new("freshdesk", "a")], None).await.unwrap();
        let second =
            store.create_call(&call(anna.id, None), &[ExternalRef::new("freshdesk", "b")], None).await.unwrap();
        store.create_call(&call(anna.id, Some(ticket.id)), &[ExternalRef::new("freshdesk", "c")], None).await.unwrap();
        store.create_call(&call(anna.id, None), &[ExternalRef::new("tpe", "d")], None).await.unwrap();
        store.create_call(&call(ben.id, None), &[ExternalRef::new("freshdesk", "e")], None).await.unwrap();

        let untied = store.untied_calls_of_agent("freshdesk", anna.id, 10).await.unwrap();
        assert_eq!(untied.iter().map(|c| c.id).collect::<Vec<_>>(), [first.id, second.id]);
        assert_eq!(untied[0].external_refs, [ExternalRef::new("freshdesk", "a")]);
        assert_eq!(store.untied_calls_of_agent("freshdesk", anna.id, 1).await.unwrap().len(), 1);
    })
    .await;
}
