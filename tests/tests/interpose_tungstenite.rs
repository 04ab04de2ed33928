//! Interposition (feature `interpose`) reaching a crate's own std socket:
//! `tungstenite::connect(url)` opens a std `TcpStream` inside the crate.
//! 100 green clients talk to a green server (std listener, tungstenite's
//! `accept`) placed on the same worker hubs; without interposition they
//! deadlock (README, "When a crate opens its own std socket").
#![cfg(feature = "interpose")]

use std::net::TcpListener;

use tungstenite::Message;

#[test]
fn hundred_green_tungstenite_connect_clients() {
    const CLIENTS: usize = 100;
    const MESSAGES: usize = 10;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = green::thread::spawn(move || {
        let mut conns = Vec::new();
        for _ in 0..CLIENTS {
            let (s, _) = listener.accept().unwrap();
            conns.push(green::thread::spawn(move || {
                let mut ws = tungstenite::accept(s).unwrap();
                let mut echoed = 0;
                loop {
                    match ws.read() {
                        Ok(m @ (Message::Binary(_) | Message::Text(_))) => {
                            ws.send(m).unwrap();
                            echoed += 1;
                        }
                        // The close reply goes out with the next read.
                        Ok(_) => {}
                        Err(tungstenite::Error::ConnectionClosed) => return echoed,
                        Err(e) => panic!("server: {e}"),
                    }
                }
            }));
        }
        conns.into_iter().map(|c| c.join().unwrap()).sum::<usize>()
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let url = url.clone();
            green::thread::spawn(move || {
                let (mut ws, _) = tungstenite::connect(url.as_str()).unwrap();
                for m in 0..MESSAGES {
                    let body: Vec<u8> = (0..64).map(|k| (i + m * 3 + k) as u8).collect();
                    ws.send(Message::binary(body.clone())).unwrap();
                    match ws.read().unwrap() {
                        Message::Binary(back) => assert_eq!(back, body, "client {i} message {m}"),
                        other => panic!("client {i}: unexpected {other:?}"),
                    }
                }
                ws.close(None).unwrap();
                loop {
                    match ws.read() {
                        Ok(_) => {}
                        Err(tungstenite::Error::ConnectionClosed) => break,
                        Err(e) => panic!("client {i} closing: {e}"),
                    }
                }
                MESSAGES
            })
        })
        .collect();
    let sent: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(sent, CLIENTS * MESSAGES);
    assert_eq!(server.join().unwrap(), sent);
}
