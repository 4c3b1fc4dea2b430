// With the features on, the errors of those crates carry signals: a field
// of one of them needs `forward` or `skip`.
use signal_core::Signal;

#[derive(Signal)]
pub enum ClientError {
    Status(http::StatusCode),
    Join(tokio::task::JoinError),
    Db(rusqlite::Error),
    Grpc(tonic::Status),
}

fn main() {}
