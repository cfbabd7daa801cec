'use strict';
// A grpc-js client running gRPC's standard interop cases
// (doc/interop-test-descriptions.md) against a grpc.testing.TestService.
//
//   node client.js --addr=127.0.0.1:10000 --descriptors=testing.pb --test_case=large_unary
//
// It prints "PASS <case>" and exits 0, or prints the reason and exits 1.
// Cases named *_gzip run on a channel that compresses every request with
// gzip (grpc-js compresses per channel, not per call).

const { grpc, flags, services } = require('./common');

const args = flags(process.argv.slice(2));
const testing = services(args.descriptors);
const Status = grpc.status;

function client(service, options) {
  return new testing[service](args.addr, grpc.credentials.createInsecure(), options || {});
}

function zeros(n) {
  return { type: 'COMPRESSABLE', body: Buffer.alloc(n) };
}

function fail(msg) {
  throw new Error(msg);
}

function checkPayload(p, n, what) {
  const got = p && p.body ? p.body.length : 0;
  if (got !== n) {
    fail(`${what}: payload of ${got} bytes, want ${n}`);
  }
  if (n > 0 && p.body.some((b) => b !== 0)) {
    fail(`${what}: payload is not all zeros`);
  }
}

// unary calls method and resolves to {response, header, trailer}, or rejects
// with the grpc-js error (code, details, metadata). grpc-js calls back
// before it emits the status, which carries the trailers: both are awaited.
function unary(c, method, req, opts) {
  opts = opts || {};
  return new Promise((resolve, reject) => {
    let header;
    let result;
    const call = c[method](req, opts.metadata || new grpc.Metadata(), opts.callOptions || {}, (err, response) => {
      result = { err, response };
    });
    call.on('metadata', (md) => { header = md; });
    call.on('status', (st) => {
      if (!result) {
        reject(new Error(`status ${st.code} (${st.details}) before the call's callback`));
      } else if (result.err) {
        reject(result.err);
      } else {
        resolve({ response: result.response, header, trailer: st.metadata });
      }
    });
  });
}

// finish resolves to {header, status, responses} once a streaming call
// ends with its status, whatever the code.
function finish(call) {
  return new Promise((resolve) => {
    const responses = [];
    let header;
    call.on('metadata', (md) => { header = md; });
    call.on('data', (m) => responses.push(m));
    call.on('error', () => {}); // the status says it all
    call.on('status', (status) => resolve({ header, status, responses }));
  });
}

function wantCode(err, code, what) {
  if (!err) {
    fail(`${what}: succeeded, want status ${code}`);
  }
  if (err.code !== code) {
    fail(`${what}: status ${err.code} (${err.details}), want ${code}`);
  }
}

function wantOK(status, what) {
  if (status.code !== Status.OK) {
    fail(`${what}: status ${status.code} (${status.details})`);
  }
}

const largeRequest = () => ({ response_type: 'COMPRESSABLE', response_size: 314159, payload: zeros(271828) });

async function emptyUnary(c) {
  const { response } = await unary(c, 'EmptyCall', {});
  if (!response || Object.keys(response).length !== 0) {
    fail(`EmptyCall returned ${JSON.stringify(response)}`);
  }
}

async function largeUnary(c) {
  const { response } = await unary(c, 'UnaryCall', largeRequest());
  checkPayload(response.payload, 314159, 'UnaryCall');
}

async function clientStreaming(c) {
  const sizes = [27182, 8, 1828, 45904];
  const response = await new Promise((resolve, reject) => {
    const call = c.StreamingInputCall((err, res) => (err ? reject(err) : resolve(res)));
    for (const n of sizes) {
      call.write({ payload: zeros(n) });
    }
    call.end();
  });
  if (response.aggregated_payload_size !== 74922) {
    fail(`aggregated_payload_size ${response.aggregated_payload_size}, want 74922`);
  }
}

async function serverStreaming(c) {
  const sizes = [31415, 9, 2653, 58979];
  const call = c.StreamingOutputCall({
    response_type: 'COMPRESSABLE',
    response_parameters: sizes.map((size) => ({ size })),
  });
  const { status, responses } = await finish(call);
  wantOK(status, 'StreamingOutputCall');
  if (responses.length !== sizes.length) {
    fail(`${responses.length} responses, want ${sizes.length}`);
  }
  responses.forEach((r, i) => checkPayload(r.payload, sizes[i], `response ${i + 1}`));
}

// stream wraps a duplex call so a case can await its responses one by one.
function stream(call) {
  const queue = [];
  const waiting = [];
  let ended = null;
  const done = finish(call);
  call.on('data', (m) => {
    const w = waiting.shift();
    if (w) {
      w.resolve(m);
    } else {
      queue.push(m);
    }
  });
  done.then((r) => {
    ended = r;
    for (const w of waiting.splice(0)) {
      w.reject(new Error(`stream ended with status ${r.status.code} (${r.status.details}) while a response was awaited`));
    }
  });
  return {
    call,
    done,
    recv() {
      if (queue.length > 0) {
        return Promise.resolve(queue.shift());
      }
      if (ended) {
        return Promise.reject(new Error(`stream ended with status ${ended.status.code} (${ended.status.details}) while a response was awaited`));
      }
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
  };
}

async function pingPong(c) {
  const sizes = [[31415, 27182], [9, 8], [2653, 1828], [58979, 45904]];
  const s = stream(c.FullDuplexCall());
  for (const [resp, req] of sizes) {
    s.call.write({ response_type: 'COMPRESSABLE', response_parameters: [{ size: resp }], payload: zeros(req) });
    const m = await s.recv();
    checkPayload(m.payload, resp, `response to ${req}`);
  }
  s.call.end();
  const { status, responses } = await s.done;
  wantOK(status, 'FullDuplexCall');
  if (responses.length !== sizes.length) {
    fail(`${responses.length} responses in all, want ${sizes.length}`);
  }
}

async function emptyStream(c) {
  const call = c.FullDuplexCall();
  call.end();
  const { status, responses } = await finish(call);
  wantOK(status, 'FullDuplexCall');
  if (responses.length !== 0) {
    fail(`${responses.length} responses, want none`);
  }
}

async function cancelAfterBegin(c) {
  const err = await new Promise((resolve) => {
    const call = c.StreamingInputCall((e) => resolve(e));
    call.cancel();
  });
  wantCode(err, Status.CANCELLED, 'StreamingInputCall cancelled');
}

async function cancelAfterFirstResponse(c) {
  const s = stream(c.FullDuplexCall());
  s.call.write({ response_type: 'COMPRESSABLE', response_parameters: [{ size: 31415 }], payload: zeros(27182) });
  const m = await s.recv();
  checkPayload(m.payload, 31415, 'first response');
  s.call.cancel();
  const { status } = await s.done;
  if (status.code !== Status.CANCELLED) {
    fail(`status ${status.code} (${status.details}), want CANCELLED`);
  }
}

async function timeoutOnSleepingServer(c) {
  const call = c.FullDuplexCall({ deadline: Date.now() + 1 });
  call.write({ response_type: 'COMPRESSABLE', payload: zeros(27182) });
  const { status } = await finish(call);
  if (status.code !== Status.DEADLINE_EXCEEDED) {
    fail(`status ${status.code} (${status.details}), want DEADLINE_EXCEEDED`);
  }
}

function echoMetadata() {
  const md = new grpc.Metadata();
  md.set('x-grpc-test-echo-initial', 'test_initial_metadata_value');
  md.set('x-grpc-test-echo-trailing-bin', Buffer.from([0xab, 0xab, 0xab]));
  return md;
}

function checkEchoed(header, trailer, what) {
  const initial = header ? header.get('x-grpc-test-echo-initial') : [];
  if (initial.length !== 1 || initial[0] !== 'test_initial_metadata_value') {
    fail(`${what}: initial metadata x-grpc-test-echo-initial = ${JSON.stringify(initial)}`);
  }
  const trailing = trailer ? trailer.get('x-grpc-test-echo-trailing-bin') : [];
  if (trailing.length !== 1 || !Buffer.from([0xab, 0xab, 0xab]).equals(trailing[0])) {
    fail(`${what}: trailing metadata x-grpc-test-echo-trailing-bin = ${JSON.stringify(trailing)}`);
  }
}

async function customMetadata(c) {
  const { response, header, trailer } = await unary(c, 'UnaryCall', largeRequest(), { metadata: echoMetadata() });
  checkPayload(response.payload, 314159, 'UnaryCall');
  checkEchoed(header, trailer, 'UnaryCall');

  const call = c.FullDuplexCall(echoMetadata());
  call.write({ response_type: 'COMPRESSABLE', response_parameters: [{ size: 314159 }], payload: zeros(271828) });
  call.end();
  const { header: h, status, responses } = await finish(call);
  wantOK(status, 'FullDuplexCall');
  if (responses.length !== 1) {
    fail(`FullDuplexCall: ${responses.length} responses, want 1`);
  }
  checkPayload(responses[0].payload, 314159, 'FullDuplexCall');
  checkEchoed(h, status.metadata, 'FullDuplexCall');
}

async function echoStatus(c, code, message, alsoStream) {
  const req = { response_status: { code, message } };
  const err = await unary(c, 'UnaryCall', req).then(() => null, (e) => e);
  wantCode(err, code, 'UnaryCall');
  if (err.details !== message) {
    fail(`UnaryCall: message ${JSON.stringify(err.details)}, want ${JSON.stringify(message)}`);
  }
  if (!alsoStream) {
    return;
  }
  const call = c.FullDuplexCall();
  call.write(req);
  call.end();
  const { status } = await finish(call);
  if (status.code !== code || status.details !== message) {
    fail(`FullDuplexCall: status ${status.code} ${JSON.stringify(status.details)}, want ${code} ${JSON.stringify(message)}`);
  }
}

async function statusCodeAndMessage(c) {
  await echoStatus(c, 2, 'test status message', true);
}

async function specialStatusMessage(c) {
  await echoStatus(c, 2, '\t\ntest with whitespace\r\nand Unicode BMP \u263A and non-BMP \uD83D\uDE08\t\n', false);
}

async function unimplementedMethod(c) {
  const err = await unary(c, 'UnimplementedCall', {}).then(() => null, (e) => e);
  wantCode(err, Status.UNIMPLEMENTED, 'TestService/UnimplementedCall');
}

async function unimplementedService() {
  const err = await unary(client('UnimplementedService'), 'UnimplementedCall', {}).then(() => null, (e) => e);
  wantCode(err, Status.UNIMPLEMENTED, 'UnimplementedService/UnimplementedCall');
}

// The gzip cases run on a channel whose every request message is
// compressed; the server is asked to compress its responses too.
async function largeUnaryGzip(c) {
  const req = largeRequest();
  req.response_compressed = { value: true };
  const { response } = await unary(c, 'UnaryCall', req);
  checkPayload(response.payload, 314159, 'UnaryCall');
}

async function streamingGzip(c) {
  await clientStreaming(c);
  const sizes = [31415, 92653];
  const call = c.StreamingOutputCall({
    response_type: 'COMPRESSABLE',
    response_parameters: sizes.map((size) => ({ size, compressed: { value: true } })),
  });
  const { status, responses } = await finish(call);
  wantOK(status, 'StreamingOutputCall');
  if (responses.length !== sizes.length) {
    fail(`${responses.length} responses, want ${sizes.length}`);
  }
  responses.forEach((r, i) => checkPayload(r.payload, sizes[i], `response ${i + 1}`));
  await pingPong(c);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// drain is not a standard case: with the server's pid in --server_pid, it
// stops the server (SIGTERM, a graceful stop) after the first response of a
// FullDuplexCall and checks that the call goes on to its end: the server's
// GOAWAY lets the streams it has finish.
async function drain(c) {
  const pid = Number(args.server_pid);
  if (!pid) {
    fail('drain needs --server_pid');
  }
  const s = stream(c.FullDuplexCall());
  for (let i = 0; i < 3; i++) {
    s.call.write({ response_type: 'COMPRESSABLE', response_parameters: [{ size: 1000 }], payload: zeros(100) });
    checkPayload((await s.recv()).payload, 1000, `response ${i + 1}`);
    if (i === 0) {
      process.kill(pid, 'SIGTERM');
    }
    await sleep(200);
  }
  s.call.end();
  const { status, responses } = await s.done;
  wantOK(status, 'FullDuplexCall across the drain');
  if (responses.length !== 3) {
    fail(`${responses.length} responses, want 3`);
  }
}

const gzipOptions = { 'grpc.default_compression_algorithm': 2 }; // gzip

const cases = {
  empty_unary: [emptyUnary],
  large_unary: [largeUnary],
  client_streaming: [clientStreaming],
  server_streaming: [serverStreaming],
  ping_pong: [pingPong],
  empty_stream: [emptyStream],
  cancel_after_begin: [cancelAfterBegin],
  cancel_after_first_response: [cancelAfterFirstResponse],
  timeout_on_sleeping_server: [timeoutOnSleepingServer],
  custom_metadata: [customMetadata],
  status_code_and_message: [statusCodeAndMessage],
  special_status_message: [specialStatusMessage],
  unimplemented_method: [unimplementedMethod],
  unimplemented_service: [unimplementedService],
  large_unary_gzip: [largeUnaryGzip, gzipOptions],
  streaming_gzip: [streamingGzip, gzipOptions],
  drain: [drain],
};

async function main() {
  const name = args.test_case;
  if (name === 'list') {
    console.log(Object.keys(cases).join('\n'));
    return;
  }
  const entry = cases[name];
  if (!entry) {
    fail(`unknown case ${JSON.stringify(name)}; known: ${Object.keys(cases).join(', ')}`);
  }
  const c = client('TestService', entry[1]);
  try {
    await entry[0](c);
  } finally {
    c.close();
  }
  console.log(`PASS ${name}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`FAIL ${args.test_case}: ${err && err.code !== undefined ? `status ${err.code}: ${err.details}` : (err && err.stack) || err}`);
    process.exit(1);
  },
);
