//! libnetring's C hand-off of flow records (nr_flow_meter_export: the
//! Arrow C Data Interface, built by hand in src/capi/flow.rs without the
//! Arrow crates) imported by arrow-rs's C Data Interface implementation:
//! the schema equals this crate's flow schema (names, types, nullability,
//! metadata), and the rows equal what this crate builds from the same
//! packets through the Rust API.

mod common;

use std::mem::MaybeUninit;

use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema, from_ffi};
use arrow_array::{RecordBatch, StructArray};
use arrow_schema::Schema;
use common::with_capture;
use netring::capi::batch::nr_packet;
use netring::capi::flow::*;
use netring_engine::flow::{FlowConfig, FlowMeter};
use netring_engine::pcapfile::Reader;
use netring_export::rows::FlowRows;
use netring_export::schema::flow_schema;

#[test]
fn the_c_export_imports_into_arrow_as_the_flow_schema_and_rows() {
    let (_d, pcap) = with_capture("cdata", 20_000, 500, 3);

    // Through the C API.
    let mut m: *mut nr_flow_meter = std::ptr::null_mut();
    // SAFETY: a valid out-pointer.
    assert_eq!(unsafe { nr_flow_meter_open(0, 0, 300, 0, &mut m) }, 0);
    // The Rust API on the same packets.
    let mut rust = FlowMeter::new(&FlowConfig {
        max_flows: 300,
        ..FlowConfig::default()
    })
    .unwrap();
    let mut r = Reader::open(&pcap).unwrap();
    while let Some(p) = r.next_packet().unwrap() {
        let c = nr_packet {
            data: p.data.as_ptr(),
            caplen: p.data.len() as u32,
            len: p.wire_len,
            ts_ns: p.ts_ns,
            ..nr_packet::EMPTY
        };
        // SAFETY: live meter; the packet's bytes live during the call.
        assert_eq!(unsafe { nr_flow_meter_observe(m, &c) }, 0);
        rust.observe(&p);
    }
    rust.flush();
    let mut want = FlowRows::with_capacity(1024);
    for rec in rust.drain_ended() {
        want.push(&rec);
    }
    let want = want.finish().unwrap();

    let mut s = MaybeUninit::<nr_arrow_schema>::uninit();
    let mut a = MaybeUninit::<nr_arrow_array>::uninit();
    // SAFETY: live meter, writable structs.
    unsafe {
        assert_eq!(nr_flow_meter_flush(m), 0);
        assert_eq!(nr_flow_meter_export(m, s.as_mut_ptr(), a.as_mut_ptr()), 0);
    }
    // SAFETY: the export wrote both in the interface's layout, which
    // FFI_ArrowSchema/FFI_ArrowArray are (repr(C), same fields); from_raw
    // moves them out and marks ours released.
    let (fs, fa) = unsafe {
        (
            FFI_ArrowSchema::from_raw(s.as_mut_ptr().cast()),
            FFI_ArrowArray::from_raw(a.as_mut_ptr().cast()),
        )
    };
    let schema = Schema::try_from(&fs).unwrap();
    assert_eq!(&schema, flow_schema().as_ref());
    // SAFETY: the array matches the schema it came with.
    let data = unsafe { from_ffi(fa, &fs) }.unwrap();
    data.validate_full().unwrap();
    let got = RecordBatch::from(StructArray::from(data))
        .with_schema(flow_schema())
        .unwrap();
    assert!(got.num_rows() > 1000, "{}", got.num_rows());
    assert_eq!(got, want);
    // Drained: a second export is empty.
    let mut s2 = MaybeUninit::<nr_arrow_schema>::uninit();
    let mut a2 = MaybeUninit::<nr_arrow_array>::uninit();
    // SAFETY: as above; then the meter is closed once.
    unsafe {
        assert_eq!(nr_flow_meter_export(m, s2.as_mut_ptr(), a2.as_mut_ptr()), 0);
        let (mut s2, mut a2) = (s2.assume_init(), a2.assume_init());
        assert_eq!(a2.length, 0);
        (a2.release.unwrap())(&mut a2);
        (s2.release.unwrap())(&mut s2);
        nr_flow_meter_close(m);
    }
}

#[test]
fn packet_rows_from_c_equal_the_crates_packet_rows() {
    let (_d, pcap) = with_capture("cdata-pk", 5_000, 300, 4);
    let mut frames: Vec<(Vec<u8>, u64, u32)> = vec![];
    let mut want = netring_export::rows::PacketRows::with_capacity(5_000);
    let mut r = Reader::open(&pcap).unwrap();
    while let Some(p) = r.next_packet().unwrap() {
        want.push(&p, &netring_engine::parse::Layers::parse_packet(&p));
        frames.push((p.data.to_vec(), p.ts_ns, p.wire_len));
    }
    let want = want.finish().unwrap();
    let pkts: Vec<nr_packet> = frames
        .iter()
        .map(|(f, ts, len)| nr_packet {
            data: f.as_ptr(),
            caplen: f.len() as u32,
            len: *len,
            ts_ns: *ts,
            ..nr_packet::EMPTY
        })
        .collect();
    let mut s = MaybeUninit::<nr_arrow_schema>::uninit();
    let mut a = MaybeUninit::<nr_arrow_array>::uninit();
    // SAFETY: pkts points to pkts.len() descriptors whose bytes live; the
    // structs are writable.
    let rc =
        unsafe { nr_packets_export(pkts.as_ptr(), pkts.len(), s.as_mut_ptr(), a.as_mut_ptr()) };
    assert_eq!(rc, 0);
    // SAFETY: as in the flow test: the interface's layout, moved out.
    let (fs, fa) = unsafe {
        (
            FFI_ArrowSchema::from_raw(s.as_mut_ptr().cast()),
            FFI_ArrowArray::from_raw(a.as_mut_ptr().cast()),
        )
    };
    let schema = Schema::try_from(&fs).unwrap();
    assert_eq!(&schema, netring_export::schema::packet_schema().as_ref());
    // SAFETY: the array matches the schema it came with.
    let data = unsafe { from_ffi(fa, &fs) }.unwrap();
    data.validate_full().unwrap();
    let got = RecordBatch::from(StructArray::from(data))
        .with_schema(netring_export::schema::packet_schema())
        .unwrap();
    assert_eq!(got.num_rows(), 5_000);
    assert_eq!(got, want);
}
