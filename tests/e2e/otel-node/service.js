// SPDX-License-Identifier: Apache-2.0
// service.js: a Node.js HTTP service (the plain `http` module, one event
// loop) for the end-to-end tests, with or without the OpenTelemetry JS SDK.
//
//   node service.js --name NAME --port PORT [--upstream HOST:PORT]
//                   [--otlp URL] [--export-ms N]
//
// Every request METHOD /any/path answers 200 {"service":NAME,"path":...}
// after one request with the same method and path to the upstream, when one
// is given (the http module's keep-alive agent; an upstream that fails, cuts
// its response or answers 5xx makes a 502). With
// --otlp the SDK (sdk-trace-node, instrumentation-http, the OTLP/HTTP
// protobuf exporter to URL/v1/traces, a batch processor flushing every
// --export-ms, default 200) traces the service as an instrumented service
// would, propagating W3C traceparent on its calls; its own export calls
// carry none (the SDK does not trace itself). Prints "ready" once
// listening; exits on SIGTERM after flushing the SDK.
'use strict';

function args() {
	const a = { name: 'node', port: 0, upstream: '', otlp: '', exportMs: 200 };
	const v = process.argv.slice(2);
	for (let i = 0; i < v.length; i += 2) {
		const k = v[i], x = v[i + 1];
		if (k === '--name') a.name = x;
		else if (k === '--port') a.port = Number(x);
		else if (k === '--upstream') a.upstream = x;
		else if (k === '--otlp') a.otlp = x;
		else if (k === '--export-ms') a.exportMs = Number(x);
		else throw new Error(`unknown option ${k}`);
	}
	return a;
}

const opt = args();
let provider = null;

// The SDK comes first: instrumentation-http patches the http module.
if (opt.otlp) {
	const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
	const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
	const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
	const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
	const { resourceFromAttributes } = require('@opentelemetry/resources');
	const { diag, DiagConsoleLogger, DiagLogLevel } = require('@opentelemetry/api');

	// failed exports on stderr (the test's log of the service)
	diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);

	provider = new NodeTracerProvider({
		resource: resourceFromAttributes({ 'service.name': opt.name }),
		spanProcessors: [
			new BatchSpanProcessor(new OTLPTraceExporter({ url: `${opt.otlp}/v1/traces` }), {
				scheduledDelayMillis: opt.exportMs,
			}),
		],
	});
	provider.register();
	new HttpInstrumentation().enable();
}

const http = require('http');
const [upHost, upPort] = opt.upstream ? opt.upstream.split(':') : ['', ''];

function callUpstream(method, path, done) {
	// once: a cut response may end in both an error and a close
	let answered = false;
	const once = (code) => {
		if (!answered) {
			answered = true;
			done(code);
		}
	};
	const req = http.request({ host: upHost, port: Number(upPort), method, path }, (res) => {
		res.resume();
		res.on('end', () => once(res.statusCode));
		res.on('error', () => once(0));
		res.on('aborted', () => once(0));
	});
	req.on('error', () => once(0));
	req.end();
}

const server = http.createServer((req, res) => {
	const answer = (code) => {
		const body = JSON.stringify({ service: opt.name, path: req.url, upstream: code });
		res.writeHead(code === 0 || code >= 500 ? 502 : 200, {
			'Content-Type': 'application/json',
			'Content-Length': Buffer.byteLength(body),
		});
		res.end(body);
	};
	req.resume();
	req.on('end', () => {
		if (opt.upstream) callUpstream(req.method, req.url, answer);
		else answer(200);
	});
});

server.listen(opt.port, '127.0.0.1', () => {
	process.stdout.write('ready\n');
});

process.on('SIGTERM', () => {
	server.close();
	const end = () => process.exit(0);
	const failed = (e) => {
		process.stderr.write(`SDK shutdown failed: ${e}\n`);
		end();
	};
	if (provider) provider.shutdown().then(end, failed);
	else end();
});
