//! `green_core::io::read_cached`: page-cache reads that never wait for I/O.
//! It must return exactly the bytes a std read returns (advancing the cursor
//! the same way), and decline (`None`) rather than block or guess where it
//! cannot answer: pipes, write-only files, empty buffers.

use std::io::{Read, Seek, Write};
use std::os::fd::AsFd;

use green_core::io::read_cached;

fn cached_file(content: &[u8]) -> (tempfile::TempDir, std::fs::File) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("cached");
    std::fs::write(&path, content).expect("write");
    // Reading it once puts it in the page cache.
    assert_eq!(std::fs::read(&path).expect("read back"), content);
    let file = std::fs::File::open(&path).expect("open");
    (dir, file)
}

#[test]
fn reads_cached_bytes_at_the_cursor_and_advances_it() {
    let content: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let (_dir, mut file) = cached_file(&content);
    let mut buf = vec![0u8; 4096];
    let n = read_cached(file.as_fd(), &mut buf, None).expect("a cached file is readable");
    assert!(n > 0 && n <= 4096);
    assert_eq!(&buf[..n], &content[..n]);
    assert_eq!(file.stream_position().expect("position"), n as u64);
    // The rest, through std, continues where the cached read stopped.
    let mut rest = Vec::new();
    file.read_to_end(&mut rest).expect("read rest");
    assert_eq!(rest, &content[n..]);
    // At the end, a cached read reports end of file like std: 0 bytes.
    assert_eq!(read_cached(file.as_fd(), &mut buf, None), Some(0));
}

#[test]
fn positioned_reads_leave_the_cursor_alone() {
    let content = b"0123456789abcdef".repeat(64);
    let (_dir, mut file) = cached_file(&content);
    let mut buf = [0u8; 6];
    let n = read_cached(file.as_fd(), &mut buf, Some(10)).expect("cached");
    assert_eq!(&buf[..n], &content[10..10 + n]);
    assert_eq!(file.stream_position().expect("position"), 0);
}

#[test]
fn declines_what_it_cannot_answer_without_waiting() {
    // An empty buffer: nothing to do, the caller decides.
    let (_dir, file) = cached_file(b"x");
    assert_eq!(read_cached(file.as_fd(), &mut [], None), None);

    // A pipe with no data would block: declined, not waited on.
    let (mut reader, mut writer) = std::io::pipe().expect("pipe");
    let mut buf = [0u8; 8];
    assert_eq!(read_cached(reader.as_fd(), &mut buf, None), None);
    writer.write_all(b"late").expect("write");
    drop(writer);
    let mut got = String::new();
    reader.read_to_string(&mut got).expect("read");
    assert_eq!(got, "late");

    // A write-only file: the read fails, so the caller must ask std.
    let dir = tempfile::tempdir().expect("temp dir");
    let wo = std::fs::File::create(dir.path().join("wo")).expect("create");
    assert_eq!(read_cached(wo.as_fd(), &mut buf, None), None);
}
