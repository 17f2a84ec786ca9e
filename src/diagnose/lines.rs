//! Reading logs line by line with flat memory: plain or gzip-compressed (recognised by its magic
//! bytes, so a rotated `jamf.log.0.gz` and an uncompressed rotation both read), each line decoded
//! as lossy UTF-8, lines longer than `MAX_LINE` cut there (a log without newlines cannot make the
//! buffer grow without bound).

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

/// Longer lines keep only their first `MAX_LINE` bytes; no marker we look for is that far in.
pub const MAX_LINE: usize = 64 * 1024;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Call `each(line_number, text)` for every line (numbered from 1); returns how many were read.
/// A read error after some lines were handed over is still an error: the caller says the rest
/// could not be read.
pub fn for_each_line(path: &Path, mut each: impl FnMut(u64, &str)) -> io::Result<u64> {
    let mut file = BufReader::with_capacity(64 * 1024, File::open(path)?);
    let head = file.fill_buf()?;
    let mut reader: Box<dyn BufRead> = if head.starts_with(&GZIP_MAGIC) {
        Box::new(BufReader::new(MultiGzDecoder::new(file)))
    } else {
        Box::new(file)
    };
    let mut buf = Vec::with_capacity(256);
    let mut n = 0;
    while read_capped_line(&mut reader, &mut buf)? {
        n += 1;
        while matches!(buf.last(), Some(b'\r')) {
            buf.pop();
        }
        each(n, &String::from_utf8_lossy(&buf));
    }
    Ok(n)
}

/// `read_until(b'\n')` that stores at most `MAX_LINE` bytes and drops the rest of the line.
/// Returns false at the end of input.
fn read_capped_line(r: &mut dyn BufRead, buf: &mut Vec<u8>) -> io::Result<bool> {
    buf.clear();
    let mut any = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(any);
        }
        any = true;
        let newline = avail.iter().position(|&b| b == b'\n');
        let chunk = &avail[..newline.unwrap_or(avail.len())];
        let room = MAX_LINE.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = newline.map_or(avail.len(), |i| i + 1);
        r.consume(used);
        if newline.is_some() {
            return Ok(true);
        }
    }
}

/// A log and its rotations in `dir`, newest first: `jamf.log`, `jamf.log.0(.gz)`, `jamf.log.1(.gz)`…
/// Names that merely start with the base (`jamf.log.bak`) are not rotations and are skipped.
pub fn rotations(dir: &Path, base: &str) -> io::Result<Vec<PathBuf>> {
    let mut found: Vec<(Option<u64>, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let generation = if name == base {
            None
        } else {
            let Some(rest) = name.strip_prefix(base).and_then(|r| r.strip_prefix('.')) else {
                continue;
            };
            let digits = rest.strip_suffix(".gz").unwrap_or(rest);
            match digits.parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => continue,
            }
        };
        found.push((generation, entry.path()));
    }
    // `None` (the live log) sorts before every numbered rotation.
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// Why a log could not be read, in words an admin acts on.
pub fn read_error_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "it does not exist".to_string(),
        io::ErrorKind::PermissionDenied => {
            "permission denied: run `sudo reenroll diagnose` to read it".to_string()
        }
        _ => format!("read error: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::{write::GzEncoder, Compression};

    use super::*;

    fn collect(path: &Path) -> Vec<String> {
        let mut v = Vec::new();
        for_each_line(path, |_, l| v.push(l.to_string())).unwrap();
        v
    }

    #[test]
    fn reads_plain_gzip_crlf_and_bad_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.log");
        std::fs::write(&plain, b"one\r\ntw\xffo\n\nlast without newline").unwrap();
        assert_eq!(
            collect(&plain),
            ["one", "tw\u{fffd}o", "", "last without newline"]
        );
        let gz = dir.path().join("a.log.0.gz");
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(b"zipped 1\nzipped 2\n").unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert_eq!(collect(&gz), ["zipped 1", "zipped 2"]);
    }

    #[test]
    fn a_corrupt_gzip_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("b.log.1.gz");
        std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
        assert!(for_each_line(&gz, |_, _| {}).is_err());
    }

    #[test]
    fn very_long_lines_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("long.log");
        let mut data = vec![b'x'; MAX_LINE * 3];
        data.extend_from_slice(b"\nnext\n");
        std::fs::write(&p, data).unwrap();
        let lines = collect(&p);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE);
        assert_eq!(lines[1], "next");
    }

    #[test]
    fn rotations_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        for n in [
            "jamf.log",
            "jamf.log.10.gz",
            "jamf.log.0.gz",
            "jamf.log.2",
            "jamf.log.bak",
            "other.log",
        ] {
            std::fs::write(dir.path().join(n), "").unwrap();
        }
        let names: Vec<_> = rotations(dir.path(), "jamf.log")
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["jamf.log", "jamf.log.0.gz", "jamf.log.2", "jamf.log.10.gz"]
        );
    }
}
