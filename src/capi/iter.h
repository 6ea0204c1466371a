/**
 * The next packet of the batch `it` walks (see nr_batch_iter()), into
 * `*out`: the packets nr_batch_for_each() visits, in the same order, field
 * for field. A `static inline` function: over a capture's ring block it
 * reads each record here, in the caller's loop, checking every offset the
 * kernel wrote against the block before it reads a byte; a record that
 * fails a check, and every other kind of batch, goes through
 * nr_iter_next_slow() (the library's walk), which reports it as
 * nr_batch_for_each() would.
 *
 * Returns NR_OK (`*out` is the packet; its data stays valid until the
 * batch is released); NR_EOF (no packet left); NR_E_MALFORMED (the ring
 * block is inconsistent: every packet before the fault was returned, the
 * rest is skipped and counted in nr_capture_stats.malformed, see
 * nr_last_error()); NR_E_BAD_BATCH (the batch was released, or this runs
 * inside its nr_batch_for_each() callback); NR_E_INVALID_ARG (NULL out).
 */
static inline int nr_iter_next(nr_iter *it, nr_packet *out)
{
    if (out == NULL)
        return nr_iter_next_slow(it, NULL);
    if (it->block != NULL && it->pending == 0) {
        if (it->left == 0)
            return NR_EOF;
        size_t off = it->off;
        if (off <= it->block_len && it->block_len - off >= sizeof(nr_v3_hdr) && (off & 3u) == 0) {
            size_t room = it->block_len - off;
            const nr_v3_hdr *h = (const nr_v3_hdr *)(const void *)(it->block + off);
            size_t mac = h->mac, snap = h->snaplen, next = h->next_offset;
            uint32_t left = it->left - 1u;
            if (mac >= sizeof(nr_v3_hdr) && mac <= room && snap <= room - mac &&
                (left == 0 || (next != 0 && next >= mac + snap))) {
                const uint8_t *data = it->block + off + mac;
#if defined(__GNUC__) || defined(__clang__)
                /* The line the frame starts on: with small records the
                 * walk reads only the header lines, and these holes in
                 * the stream of lines keep the hardware prefetcher from
                 * following it. */
                __builtin_prefetch(data);
#endif
                uint16_t proto = h->sll_protocol;
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                proto = (uint16_t)((proto >> 8) | (proto << 8));
#endif
                out->data = data;
                out->caplen = (uint32_t)snap;
                out->len = h->len;
                out->ts_ns = (uint64_t)h->sec * 1000000000u + h->nsec;
                out->ifindex = h->sll_ifindex;
                out->rxhash = h->rxhash;
                out->flags = (h->status & NR_PACKET_FLAGS_KERNEL_MASK) |
                             (h->snaplen < h->len ? NR_PACKET_FLAG_TRUNCATED : 0u);
                out->vlan_tci = (uint16_t)h->vlan_tci;
                out->vlan_tpid = h->vlan_tpid;
                out->protocol = proto;
                out->pkt_type = h->sll_pkttype;
                it->left = left;
                if (left != 0)
                    it->off = off + next;
                return NR_OK;
            }
        }
    }
    {
        /* The library's walk, on copies: neither `it` nor `out` escapes,
         * so the caller's loop keeps the iterator in registers and the
         * compiler drops the fields of `out` it never reads. */
        nr_iter i = *it;
        nr_packet p;
        int rc = nr_iter_next_slow(&i, &p);
        *it = i;
        if (rc == NR_OK)
            *out = p;
        return rc;
    }
}
