//! A real SMTP server on loopback for tests and rehearsals: mailin's SMTP state machine over a std TCP listener,
//! keeping every message. It answers 550 for [`REFUSED_RECIPIENT`], so that a refused recipient can be tested.
#![allow(clippy::expect_used)]

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin::{Action, Handler, Response, SessionBuilder, response};

/// The one recipient the sink refuses (550 no such mailbox).
pub const REFUSED_RECIPIENT: &str = "nobody@example.com";

/// One message as the server received it: the envelope and the raw DATA.
#[derive(Clone, Debug)]
pub struct Received {
    /// MAIL FROM.
    pub mail_from: String,
    /// RCPT TO, as accepted.
    pub rcpt_to: Vec<String>,
    /// The message (headers and body) as sent.
    pub data: Vec<u8>,
}

#[derive(Clone)]
struct Collect {
    store: Arc<Mutex<Vec<Received>>>,
    current: Option<Received>,
}

impl Handler for Collect {
    fn rcpt(&mut self, to: &str) -> Response {
        if to == REFUSED_RECIPIENT { response::NO_MAILBOX } else { response::OK }
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = Some(Received { mail_from: from.to_owned(), rcpt_to: to.to_vec(), data: Vec::new() });
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        if let Some(r) = &mut self.current {
            r.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some(r) = self.current.take() {
            self.store.lock().expect("the SMTP sink").push(r);
        }
        response::OK
    }
}

/// A local SMTP server on 127.0.0.1 that keeps every message; stopped when dropped.
pub struct SmtpSink {
    /// The port it listens on.
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
}

fn session(stream: TcpStream, store: Arc<Mutex<Vec<Received>>>) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let peer = stream.peer_addr()?.ip();
    let mut session = SessionBuilder::new("sink.test").build(peer, Collect { store, current: None });
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    session.greeting().write_to(&mut writer)?;
    writer.flush()?;
    let mut line = Vec::with_capacity(128);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let res = session.process(&line);
        match res.action {
            Action::Reply => res.write_to(&mut writer)?,
            Action::Close => {
                res.write_to(&mut writer)?;
                writer.flush()?;
                return Ok(());
            }
            Action::NoReply => {}
            Action::UpgradeTls => return Ok(()),
        }
        writer.flush()?;
    }
}

impl SmtpSink {
    /// Listens on 127.0.0.1:`port` (0 picks a free port) and keeps every message.
    pub fn start(port: u16) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("the SMTP sink");
        let port = listener.local_addr().expect("the SMTP sink").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (store, stopping) = (Arc::clone(&received), Arc::clone(&stop));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    let _ = session(conn, store);
                });
            }
        });
        SmtpSink { port, received, stop }
    }

    /// Returns the messages received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("the SMTP sink").clone()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}
