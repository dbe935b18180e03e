-- pgbench reference of tests/bench/claim: one claim of 50 (one transaction), then the 50 outcomes in one
-- transaction sent as one pipeline (one round trip), as store_call_events sends them.
-- The bare statements of server/store/attempts.c (migration 012's functions), 8 clients.
-- Variables (-D): campaign, boot. seq is the attempt id (unique), so (boot, seq) never repeats.
SELECT a[1] AS a1, a[2] AS a2, a[3] AS a3, a[4] AS a4, a[5] AS a5, a[6] AS a6, a[7] AS a7, a[8] AS a8, a[9] AS a9, a[10] AS a10, a[11] AS a11, a[12] AS a12, a[13] AS a13, a[14] AS a14, a[15] AS a15, a[16] AS a16, a[17] AS a17, a[18] AS a18, a[19] AS a19, a[20] AS a20, a[21] AS a21, a[22] AS a22, a[23] AS a23, a[24] AS a24, a[25] AS a25, a[26] AS a26, a[27] AS a27, a[28] AS a28, a[29] AS a29, a[30] AS a30, a[31] AS a31, a[32] AS a32, a[33] AS a33, a[34] AS a34, a[35] AS a35, a[36] AS a36, a[37] AS a37, a[38] AS a38, a[39] AS a39, a[40] AS a40, a[41] AS a41, a[42] AS a42, a[43] AS a43, a[44] AS a44, a[45] AS a45, a[46] AS a46, a[47] AS a47, a[48] AS a48, a[49] AS a49, a[50] AS a50
  FROM (SELECT array_agg(attempt_id) AS a FROM carillon_claim(:campaign, 50, now(), '{}', '{}', '{}', '', '{}', NULL, false, NULL, 'bench')) s
\gset
\startpipeline
BEGIN;
SELECT carillon_call_event(:boot, :a1, 'bench', :a1, 'ended', 'no_answer', now(), 'bench-' || :a1::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a2, 'bench', :a2, 'ended', 'no_answer', now(), 'bench-' || :a2::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a3, 'bench', :a3, 'ended', 'no_answer', now(), 'bench-' || :a3::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a4, 'bench', :a4, 'ended', 'no_answer', now(), 'bench-' || :a4::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a5, 'bench', :a5, 'ended', 'no_answer', now(), 'bench-' || :a5::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a6, 'bench', :a6, 'ended', 'no_answer', now(), 'bench-' || :a6::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a7, 'bench', :a7, 'ended', 'no_answer', now(), 'bench-' || :a7::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a8, 'bench', :a8, 'ended', 'no_answer', now(), 'bench-' || :a8::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a9, 'bench', :a9, 'ended', 'no_answer', now(), 'bench-' || :a9::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a10, 'bench', :a10, 'ended', 'no_answer', now(), 'bench-' || :a10::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a11, 'bench', :a11, 'ended', 'no_answer', now(), 'bench-' || :a11::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a12, 'bench', :a12, 'ended', 'no_answer', now(), 'bench-' || :a12::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a13, 'bench', :a13, 'ended', 'no_answer', now(), 'bench-' || :a13::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a14, 'bench', :a14, 'ended', 'no_answer', now(), 'bench-' || :a14::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a15, 'bench', :a15, 'ended', 'no_answer', now(), 'bench-' || :a15::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a16, 'bench', :a16, 'ended', 'no_answer', now(), 'bench-' || :a16::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a17, 'bench', :a17, 'ended', 'no_answer', now(), 'bench-' || :a17::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a18, 'bench', :a18, 'ended', 'no_answer', now(), 'bench-' || :a18::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a19, 'bench', :a19, 'ended', 'no_answer', now(), 'bench-' || :a19::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a20, 'bench', :a20, 'ended', 'no_answer', now(), 'bench-' || :a20::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a21, 'bench', :a21, 'ended', 'no_answer', now(), 'bench-' || :a21::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a22, 'bench', :a22, 'ended', 'no_answer', now(), 'bench-' || :a22::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a23, 'bench', :a23, 'ended', 'no_answer', now(), 'bench-' || :a23::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a24, 'bench', :a24, 'ended', 'no_answer', now(), 'bench-' || :a24::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a25, 'bench', :a25, 'ended', 'no_answer', now(), 'bench-' || :a25::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a26, 'bench', :a26, 'ended', 'no_answer', now(), 'bench-' || :a26::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a27, 'bench', :a27, 'ended', 'no_answer', now(), 'bench-' || :a27::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a28, 'bench', :a28, 'ended', 'no_answer', now(), 'bench-' || :a28::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a29, 'bench', :a29, 'ended', 'no_answer', now(), 'bench-' || :a29::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a30, 'bench', :a30, 'ended', 'no_answer', now(), 'bench-' || :a30::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a31, 'bench', :a31, 'ended', 'no_answer', now(), 'bench-' || :a31::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a32, 'bench', :a32, 'ended', 'no_answer', now(), 'bench-' || :a32::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a33, 'bench', :a33, 'ended', 'no_answer', now(), 'bench-' || :a33::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a34, 'bench', :a34, 'ended', 'no_answer', now(), 'bench-' || :a34::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a35, 'bench', :a35, 'ended', 'no_answer', now(), 'bench-' || :a35::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a36, 'bench', :a36, 'ended', 'no_answer', now(), 'bench-' || :a36::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a37, 'bench', :a37, 'ended', 'no_answer', now(), 'bench-' || :a37::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a38, 'bench', :a38, 'ended', 'no_answer', now(), 'bench-' || :a38::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a39, 'bench', :a39, 'ended', 'no_answer', now(), 'bench-' || :a39::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a40, 'bench', :a40, 'ended', 'no_answer', now(), 'bench-' || :a40::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a41, 'bench', :a41, 'ended', 'no_answer', now(), 'bench-' || :a41::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a42, 'bench', :a42, 'ended', 'no_answer', now(), 'bench-' || :a42::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a43, 'bench', :a43, 'ended', 'no_answer', now(), 'bench-' || :a43::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a44, 'bench', :a44, 'ended', 'no_answer', now(), 'bench-' || :a44::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a45, 'bench', :a45, 'ended', 'no_answer', now(), 'bench-' || :a45::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a46, 'bench', :a46, 'ended', 'no_answer', now(), 'bench-' || :a46::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a47, 'bench', :a47, 'ended', 'no_answer', now(), 'bench-' || :a47::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a48, 'bench', :a48, 'ended', 'no_answer', now(), 'bench-' || :a48::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a49, 'bench', :a49, 'ended', 'no_answer', now(), 'bench-' || :a49::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
SELECT carillon_call_event(:boot, :a50, 'bench', :a50, 'ended', 'no_answer', now(), 'bench-' || :a50::text, 480, 'dialer', now() - interval '30 s', NULL, NULL, now(), NULL, NULL, '');
COMMIT;
\endpipeline
