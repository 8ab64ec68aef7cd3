//! Peer wire decoders: handshake, framed messages (with a piece count taken
//! from the input), and the BEP 10 payloads. Whatever decodes must re-encode
//! and decode to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_metainfo::merkle::Node;
use shoal_metainfo::merkle_proof::{LayerRequest, PieceTree, check_layer_hashes};
use shoal_wire::{
    Decoder, ExtHandshake, Handshake, HashRequest, Message, MetadataMessage, PexMessage,
};

/// A peer's `hashes` answer checked as a piece layer proof, and its hashes
/// served back as a (small) piece layer, with whatever fields it carried:
/// neither may panic, and a proof that checks must rebuild the root.
fn layer_proofs(request: &HashRequest, hashes: &[u8], pieces: u32) {
    let nodes: Vec<Node> = hashes
        .chunks_exact(32)
        .filter_map(|c| c.try_into().ok())
        .collect();
    let req = LayerRequest {
        base_layer: request.base_layer,
        index: request.index,
        length: request.length,
        proof_layers: request.proof_layers,
    };
    let piece_length = 16384u64 << (request.base_layer % 8);
    if let Ok(base) = check_layer_hashes(
        &request.pieces_root,
        piece_length,
        u64::from(pieces),
        &req,
        &nodes,
    ) {
        assert!(base.len() <= request.length as usize);
    }
    let layer = nodes.get(..nodes.len().min(64)).unwrap_or_default();
    if layer.is_empty() {
        return;
    }
    let tree = PieceTree::new(layer, piece_length);
    if let (Some(answer), Some(root)) = (tree.answer(&req), tree.root()) {
        let pieces = layer.len() as u64;
        if req.base_layer == shoal_metainfo::merkle::piece_level(piece_length)
            && req.proof_hash_count() + req.length.trailing_zeros()
                == pieces.next_power_of_two().trailing_zeros()
        {
            assert!(check_layer_hashes(&root, piece_length, pieces, &req, &answer).is_ok());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = Handshake::decode(data);
    let (count, rest) = match data.split_first() {
        Some((first, rest)) => (u32::from(*first) * 37 + 1, rest),
        None => return,
    };
    let decoder = Decoder::with_piece_count(count);
    let mut frames = decoder.messages(rest);
    for frame in frames.by_ref() {
        let Ok(msg) = frame else { break };
        // BEP 52 messages decode only with fields that can name nodes, and
        // `hashes` only with as many hashes as its request implies.
        match msg {
            Message::HashRequest(r) | Message::HashReject(r) => assert!(r.is_well_formed()),
            Message::Hashes { request, hashes } => {
                assert!(request.is_well_formed());
                assert_eq!(hashes.len(), 32 * request.answer_hash_count() as usize);
                layer_proofs(&request, hashes, count);
            }
            _ => {}
        }
        let mut out = Vec::new();
        msg.encode(&mut out);
        assert_eq!(out.len(), msg.encoded_len());
        let (again, used) = decoder.decode(&out).expect("re-encoded message decodes");
        assert_eq!(used, out.len());
        assert_eq!(again, msg);
    }
    assert!(frames.consumed() <= rest.len());
    if let Ok(ext) = ExtHandshake::decode(rest) {
        let mut out = Vec::new();
        ext.encode(&mut out);
        assert_eq!(ExtHandshake::decode(&out).ok(), Some(ext));
    }
    let _ = MetadataMessage::decode(rest);
    if let Ok(pex) = PexMessage::decode(rest) {
        let mut out = Vec::new();
        pex.encode(&mut out);
        let again = PexMessage::decode(&out).expect("re-encoded pex decodes");
        assert_eq!(again.added.len(), pex.added.len());
    }
});
