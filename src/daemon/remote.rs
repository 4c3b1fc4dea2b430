//! A flapping "remote" served on 127.0.0.1 by the daemon itself, and the
//! client the workers use. Faults are real: the server resets connections
//! (the client sees `ECONNRESET`), stalls them (the client's deadline
//! expires), and stops listening for a while (connects are refused).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::errors::RemoteError;
use super::faults::{Faults, NetFault};
use super::store::Job;

/// How long the remote stops listening after a `Refuse` fault.
const REFUSE_FOR: Duration = Duration::from_millis(40);
/// How long a stalled connection is held before the server drops it.
const STALL_FOR: Duration = Duration::from_secs(2);

/// The running remote.
pub struct Remote {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// Tells the daemon when the remote is listening again after refusing.
    up: watch::Receiver<u64>,
}

impl Remote {
    /// Starts serving on an ephemeral port of 127.0.0.1.
    pub async fn start(faults: Arc<Faults>) -> io::Result<Remote> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let (up_tx, up) = watch::channel(0);
        let task = tokio::spawn(serve(listener, addr, faults, stopped, up_tx));
        Ok(Remote {
            addr,
            stop,
            task,
            up,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes each time the remote starts listening again after a refusal
    /// window: the daemon's cue to recover stopped workers.
    pub fn up(&self) -> watch::Receiver<u64> {
        self.up.clone()
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn serve(
    mut listener: TcpListener,
    addr: SocketAddr,
    faults: Arc<Faults>,
    mut stopped: watch::Receiver<bool>,
    up: watch::Sender<u64>,
) {
    let (refuse_tx, mut refuse) = tokio::sync::mpsc::channel::<()>(1);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            Some(()) = refuse.recv() => {
                let down = tokio::time::Instant::now();
                drop(listener);
                tokio::time::sleep(REFUSE_FOR).await;
                listener = loop {
                    match TcpListener::bind(addr).await {
                        Ok(listener) => break listener,
                        Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                };
                faults.record_refusal(down.elapsed());
                up.send_modify(|n| *n += 1);
            }
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    connections.spawn(connection(stream, Arc::clone(&faults), refuse_tx.clone()));
                }
                while connections.try_join_next().is_some() {}
            }
        }
    }
    connections.shutdown().await;
}

async fn connection(stream: TcpStream, faults: Arc<Faults>, refuse: tokio::sync::mpsc::Sender<()>) {
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        match stream.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut parts = line.split_whitespace();
        let (Some("PROCESS"), Some(id), Some(creds)) = (parts.next(), parts.next(), parts.next())
        else {
            let _ = stream.get_mut().write_all(b"ERR 400\n").await;
            continue;
        };
        match faults.next_request() {
            NetFault::None => {}
            NetFault::Reset => return reset(stream.into_inner()),
            NetFault::Refuse => {
                let _ = refuse.try_send(());
                return reset(stream.into_inner());
            }
            NetFault::Stall => {
                tokio::time::sleep(STALL_FOR).await;
                return;
            }
        }
        let answer = if creds == "ok" {
            format!("OK {id}:processed\n")
        } else {
            "ERR 401\n".to_owned()
        };
        if stream.get_mut().write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Closes with a TCP reset rather than a FIN.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// A worker's connection to the remote, opened lazily and dropped on any
/// error.
pub struct Client {
    addr: SocketAddr,
    deadline: Duration,
    conn: Option<BufReader<TcpStream>>,
}

impl Client {
    /// A client for the remote at `addr`; each call must finish within
    /// `deadline`.
    pub fn new(addr: SocketAddr, deadline: Duration) -> Self {
        Client {
            addr,
            deadline,
            conn: None,
        }
    }

    /// Sends a job, returns its result.
    pub async fn process(&mut self, job: &Job) -> Result<String, RemoteError> {
        let result = tokio::time::timeout(self.deadline, self.exchange(job)).await;
        let result = match result {
            Ok(result) => result,
            Err(_elapsed) => Err(RemoteError::Timeout),
        };
        if result.is_err() {
            self.conn = None;
        }
        let line = result?;
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next()) {
            (Some("OK"), Some(result)) => Ok(result.to_owned()),
            (Some("ERR"), Some(status @ ("401" | "403"))) => Err(RemoteError::Unauthorized {
                status: status.parse().unwrap_or(401),
            }),
            _ => Err(RemoteError::Protocol),
        }
    }

    async fn exchange(&mut self, job: &Job) -> Result<String, RemoteError> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(self.addr)
                .await
                .map_err(RemoteError::Io)?;
            stream.set_nodelay(true).map_err(RemoteError::Io)?;
            self.conn = Some(BufReader::new(stream));
        }
        let conn = self.conn.as_mut().ok_or(RemoteError::Protocol)?;
        let request = format!("PROCESS {} {}\n", job.id.0, job.creds);
        conn.get_mut()
            .write_all(request.as_bytes())
            .await
            .map_err(RemoteError::Io)?;
        let mut line = String::new();
        if conn.read_line(&mut line).await.map_err(RemoteError::Io)? == 0 {
            return Err(RemoteError::Io(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the remote closed the connection before answering",
            )));
        }
        Ok(line)
    }
}
