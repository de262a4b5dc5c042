//! Events (spec chapter 4): truncated, mutated, deeply nested and oversized events.

use super::*;

#[test]
fn every_truncated_event_is_malformed() {
    // Guards against an event cut short decoding to some other event, or panicking.
    for event in sample_events() {
        for len in 0..event.bytes().len() {
            let result = VerifiedEvent::decode(&event.bytes()[..len]);
            assert!(
                matches!(result, Err(EventError::Malformed(_))),
                "{len} of {} bytes gave {result:?}",
                event.bytes().len()
            );
        }
    }
}

#[test]
fn every_single_byte_mutation_of_an_event_is_refused_or_canonical() {
    // Guards against a damaged event panicking the decoder, or decoding to an event whose
    // bytes (and so whose id) differ from what was received.
    for event in sample_events() {
        let bytes = event.bytes();
        for position in 0..bytes.len() {
            for byte in 0..=u8::MAX {
                if byte == bytes[position] {
                    continue;
                }
                let mut mutated = bytes.to_vec();
                mutated[position] = byte;
                if let Ok(decoded) = VerifiedEvent::decode(&mutated) {
                    assert_eq!(decoded.event().encode(), mutated);
                    assert_eq!(decoded.bytes(), mutated);
                    // `Event::id` hashes the encoding, which is the bytes received.
                    assert_eq!(decoded.id(), decoded.event().id());
                }
            }
        }
    }
}

#[test]
fn a_deeply_nested_value_fails_without_overflowing_the_stack() {
    // Guards against 100,000 nested arrays in a document recursing until the stack overflows.
    let event = Event {
        op: Op::Create(Value::Object(vec![("a".to_owned(), Value::Null)])),
        ..update_and_remove()[0].event().clone()
    };
    let mut bytes = event.encode();
    // The document ends with the value of "a": Null, 0x00. Replace it with 100,000 arrays of
    // one element each (variant 5, length 1), around a final null.
    assert_eq!(bytes.pop(), Some(0));
    bytes.extend([5u8, 1].repeat(100_000));
    bytes.push(0);
    assert!(bytes.len() <= EVENT_BYTES_MAX);
    assert!(matches!(
        VerifiedEvent::decode(&bytes),
        Err(EventError::Malformed(_))
    ));
    // Objects nest the same way: {"": {"": ...}} is variant 6, one entry, an empty key.
    bytes.truncate(event.encode().len() - 1);
    bytes.extend([6u8, 1, 0].repeat(80_000));
    bytes.push(0);
    assert!(bytes.len() <= EVENT_BYTES_MAX);
    assert!(matches!(
        VerifiedEvent::decode(&bytes),
        Err(EventError::Malformed(_))
    ));

    // The same event inside a request is refused as an invalid event, not a crash.
    let error = accept(&fixture().groups, &request(vec![], vec![bytes])).unwrap_err();
    assert!(matches!(
        error,
        SyncError::InvalidEvent {
            index: 0,
            source: EventError::Malformed(_)
        }
    ));
    assert_eq!(error.code(), ErrorCode::InvalidEvent);
}

#[test]
fn an_event_over_the_size_limit_is_too_large() {
    // Guards against an event larger than the protocol allows being decoded, sealed or
    // accepted.
    let mut rng = Rng::new(4);
    let big = create_event(&mut rng, "alpha", START_MS, "alice", 10);
    let mut event = big.event().clone();
    event.op = Op::Create(Value::Object(vec![(
        "text".to_owned(),
        Value::String("x".repeat(EVENT_BYTES_MAX)),
    )]));
    let bytes = event.encode();
    assert!(bytes.len() > EVENT_BYTES_MAX);
    let too_large = EventError::TooLarge {
        bytes: bytes.len(),
        bytes_max: EVENT_BYTES_MAX,
    };
    assert_eq!(VerifiedEvent::decode(&bytes), Err(too_large.clone()));
    assert_eq!(event.validate(), Err(too_large.clone()));
    assert_eq!(event.clone().seal(), Err(too_large.clone()));

    let error = accept(&fixture().groups, &request(vec![], vec![bytes])).unwrap_err();
    match &error {
        SyncError::InvalidEvent { index: 0, source } => assert_eq!(source, &too_large),
        other => panic!("{other:?}"),
    }
    assert_eq!(error.code(), ErrorCode::InvalidEvent);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1024,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x0BAD_0002),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_bytes_never_panic_the_event_decoder(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        // Guards against any input crashing the event decoder instead of being refused.
        if let Ok(decoded) = VerifiedEvent::decode(&bytes) {
            prop_assert_eq!(decoded.event().encode(), bytes);
        }
    }

    #[test]
    fn random_tails_after_a_valid_event_head_never_panic(
        event in 0usize..3,
        head in any::<Index>(),
        tail in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        // Guards against a crash deep in an event (its base, patch or document), which random
        // bytes from the start rarely reach.
        let event = &sample_events()[event];
        let mut bytes = event.bytes()[..head.index(event.bytes().len())].to_vec();
        bytes.extend(tail);
        if let Ok(decoded) = VerifiedEvent::decode(&bytes) {
            prop_assert_eq!(decoded.event().encode(), bytes);
        }
    }
}
