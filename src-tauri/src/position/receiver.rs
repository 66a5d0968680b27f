//! Reading an external GNSS receiver: NMEA 0183 lines over TCP or a serial port, decoded into
//! fixes. Runs on its own thread while a capture needs it; a lost link is retried until the
//! capture ends, and every problem is reported to the capture so the form can show it.

use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use shared::position::{Fix, SourceConfig};

use super::nmea::{MAX_LINE, NmeaDecoder, NmeaEvent};

/// How often a blocked read wakes up to see whether the capture still wants it.
const POLL: Duration = Duration::from_millis(250);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Fix(Fix),
    NoFix { satellites: Option<u8> },
    Error(String),
}

/// Reads the receiver until `stop` is set or `sink` answers `false`.
pub fn run(cfg: &SourceConfig, stop: &AtomicBool, sink: &mut dyn FnMut(Event) -> bool) {
    while !stop.load(Ordering::SeqCst) {
        let outcome = match open(cfg) {
            Ok(stream) => read_lines(stream, stop, sink),
            Err(msg) => Err(msg),
        };
        match outcome {
            Ok(false) => return,
            Ok(true) => {
                if !sink(Event::Error("接收机断开连接，正在重连".into())) {
                    return;
                }
            }
            Err(msg) => {
                if !sink(Event::Error(msg)) {
                    return;
                }
            }
        }
        // Wait a second before reconnecting, waking early when the capture ends.
        for _ in 0..4 {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(POLL);
        }
    }
}

fn open(cfg: &SourceConfig) -> Result<Box<dyn Read + Send>, String> {
    match cfg {
        SourceConfig::Device => Err("设备定位不经接收机".into()),
        SourceConfig::ReceiverTcp { address } => {
            let addrs: Vec<_> = address
                .to_socket_addrs()
                .map_err(|e| format!("无法解析接收机地址 {address}：{e}"))?
                .collect();
            let mut last = format!("无法连接接收机 {address}");
            for a in addrs {
                match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
                    Ok(s) => {
                        s.set_read_timeout(Some(POLL)).map_err(|e| e.to_string())?;
                        return Ok(Box::new(s));
                    }
                    Err(e) => last = format!("无法连接接收机 {address}：{e}"),
                }
            }
            Err(last)
        }
        SourceConfig::ReceiverSerial { path, baud } => serial::open(path, *baud),
    }
}

/// Reads until the stream ends (`Ok(true)`: reconnect) or the capture no longer wants fixes
/// (`Ok(false)`).
fn read_lines(
    stream: Box<dyn Read + Send>,
    stop: &AtomicBool,
    sink: &mut dyn FnMut(Event) -> bool,
) -> Result<bool, String> {
    let mut reader = BufReader::new(stream);
    let mut decoder = NmeaDecoder::new();
    let mut line = Vec::with_capacity(128);
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(false);
        }
        match (&mut reader).take(MAX_LINE as u64 + 2).read_until(b'\n', &mut line) {
            Ok(0) if line.is_empty() => {
                let go_on = decoder.finish().is_none_or(|e| deliver(e, sink));
                return if go_on { Ok(true) } else { Ok(false) };
            }
            Ok(_) => {
                // A line is complete at its newline; a partial one waits for the rest, and an
                // overlong one is dropped whole.
                if line.last() == Some(&b'\n') || line.len() > MAX_LINE {
                    let text = String::from_utf8_lossy(&line).into_owned();
                    line.clear();
                    if let Some(ev) = decoder.push_line(&text)
                        && !deliver(ev, sink)
                    {
                        return Ok(false);
                    }
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(format!("读取接收机数据失败：{e}")),
        }
    }
}

fn deliver(e: NmeaEvent, sink: &mut dyn FnMut(Event) -> bool) -> bool {
    match e {
        NmeaEvent::Fix(f) => sink(Event::Fix(f)),
        NmeaEvent::NoFix { satellites } => sink(Event::NoFix { satellites }),
    }
}

#[cfg(unix)]
mod serial {
    use std::io::Read;

    use rustix::termios::{self, OptionalActions, SpecialCodeIndex};

    /// Opens the port raw at `baud`, with reads that return after a quarter second without data
    /// so the reader can notice the end of the capture.
    pub fn open(path: &str, baud: u32) -> Result<Box<dyn Read + Send>, String> {
        // The path was checked to be a serial device node (shared::position).
        if !shared::position::is_serial_device_path(path) {
            return Err("串口路径无效".into());
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .open(path)
            .map_err(|e| format!("无法打开串口 {path}：{e}"))?;
        if let Ok(mut t) = termios::tcgetattr(&file) {
            t.make_raw();
            t.set_speed(baud).map_err(|e| format!("无法设置波特率 {baud}：{e}"))?;
            t.special_codes[SpecialCodeIndex::VMIN] = 0;
            t.special_codes[SpecialCodeIndex::VTIME] = 2;
            termios::tcsetattr(&file, OptionalActions::Now, &t).map_err(|e| format!("无法设置串口：{e}"))?;
        }
        Ok(Box::new(file))
    }
}

#[cfg(not(unix))]
mod serial {
    pub fn open(_path: &str, _baud: u32) -> Result<Box<dyn std::io::Read + Send>, String> {
        Err("此平台不支持串口接收机".into())
    }
}
