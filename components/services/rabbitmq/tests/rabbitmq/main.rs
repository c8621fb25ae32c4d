//! RabbitMQ provisioning: live tests against a real broker (env DTAAS_TEST_RABBITMQ_URL,
//! `http://admin:pw@127.0.0.1:15672`, management plugin enabled; .ci/run sets it up), and
//! wiremock tests of the request shapes and error answers.

mod contract;
mod live;
