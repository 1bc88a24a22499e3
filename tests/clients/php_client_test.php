<?php
/**
 * Tests of clients/php/WxsubClient.php against the real service (plain PHP,
 * no PHPUnit). Started by tests/clients/run.py, which exports WXSUB_URL,
 * WXSUB_API_KEY, STANDIN_URL, REDIS_PORT and the template ids. Prints one
 * line per check; exits 1 when any failed.
 *
 * Every check uses its own openId, so the checks do not depend on each
 * other's leftovers. The last check stops Redis (run.py restarts it).
 */

declare(strict_types=1);

require_once __DIR__ . '/../../clients/php/WxsubClient.php';

use Wxsub\WxsubClient;
use Wxsub\WxsubException;
use Wxsub\NotSubscribedException;
use Wxsub\UserRefusedException;
use Wxsub\InvalidDataException;
use Wxsub\SensitiveContentException;
use Wxsub\BadRequestException;
use Wxsub\UnauthorizedException;
use Wxsub\ForbiddenException;
use Wxsub\RateLimitedException;
use Wxsub\UpstreamException;
use Wxsub\UnavailableException;
use Wxsub\TransportException;
use Wxsub\IdempotencyException;

error_reporting(E_ALL);
set_error_handler(function ($no, $str, $file, $line) {
    if (!(error_reporting() & $no)) {
        return false;   // silenced with @
    }
    throw new ErrorException($str, 0, $no, $file, $line);
});

function env(string $name): string
{
    $v = getenv($name);
    if ($v === false || $v === '') {
        fwrite(STDERR, "$name is not set: run tests/clients/run.py\n");
        exit(2);
    }
    return $v;
}

$URL = env('WXSUB_URL');
$KEY = env('WXSUB_API_KEY');
$STANDIN = env('STANDIN_URL');
$REDIS_PORT = (int)env('REDIS_PORT');
list($TPL1, $TPL2, $TPL3) = explode(',', env('WXSUB_TEMPLATE_IDS'));
$TPL_LONG = env('WXSUB_TEMPLATE_LONG');
$TPL_UNKNOWN = env('WXSUB_TEMPLATE_UNKNOWN');
$WX_TIMEOUT_MS = (int)env('WXSUB_WECHAT_TIMEOUT_MS');

// ---- a tiny test kit ---------------------------------------------------------

$passed = 0;
$failed = [];

class CheckFailed extends Exception {}

function check(string $name, callable $fn): void
{
    global $passed, $failed;
    $t0 = microtime(true);
    try {
        $fn();
        $passed++;
        printf("ok     %-66s %5.0f ms\n", $name, (microtime(true) - $t0) * 1000);
    } catch (Throwable $e) {
        $failed[] = $name;
        printf("FAILED %s\n       %s: %s\n       at %s:%d\n", $name, get_class($e),
            $e->getMessage(), $e->getFile(), $e->getLine());
    }
}

function ok(bool $cond, string $what): void
{
    if (!$cond) {
        throw new CheckFailed($what);
    }
}

function eq($want, $got, string $what): void
{
    if ($want !== $got) {
        throw new CheckFailed($what . ': want ' . var_export($want, true) . ', got ' .
            var_export($got, true));
    }
}

/** Runs $fn, which must throw $class; returns the exception. */
function throws(string $class, callable $fn): Throwable
{
    try {
        $r = $fn();
    } catch (Throwable $e) {
        if (!($e instanceof $class)) {
            throw new CheckFailed("want $class, got " . get_class($e) . ': ' . $e->getMessage());
        }
        return $e;
    }
    throw new CheckFailed("want $class, nothing thrown (returned " . var_export($r, true) . ')');
}

/** Checks the fields every WxsubException carries. */
function wxerr(WxsubException $e, string $code, int $status, ?int $errcode): void
{
    eq($code, $e->getErrorCode(), 'getErrorCode()');
    eq($status, $e->getHttpStatus(), 'getHttpStatus()');
    eq($errcode, $e->getErrcode(), 'getErrcode()');
    if ($status !== 0) {
        ok(is_string($e->getRequestId()) && $e->getRequestId() !== '',
            'getRequestId() is the answer\'s X-Request-Id');
    }
}

/** Does the exception show the key (or its first 15 characters, as traces cut strings)? */
function leaks(Throwable $e, string $key): bool
{
    $text = $e->getMessage() . (string)$e . $e->getTraceAsString();
    if (strpos($text, $key) !== false || strpos($text, substr($key, 0, 15)) !== false) {
        return true;
    }
    $walk = function ($v) use (&$walk, $key) {
        if (is_string($v)) {
            return strpos($v, $key) !== false;
        }
        if (is_array($v)) {
            foreach ($v as $x) {
                if ($walk($x)) {
                    return true;
                }
            }
        }
        return false;   // objects: the test's own closures hold the key
    };
    foreach ($e->getTrace() as $frame) {
        if (isset($frame['args']) && $walk($frame['args'])) {
            return true;
        }
    }
    return $e->getPrevious() !== null && leaks($e->getPrevious(), $key);
}

/** A valid 28-character openId per tag. */
function oid(string $tag): string
{
    static $n = 0;
    $n++;
    $s = 'oPHP' . preg_replace('/[^A-Za-z0-9]/', '', $tag) . '_' . $n . '_';
    return substr(str_pad($s, 28, 'x'), 0, 28);
}

/** A call to the stand-in's control API; returns its JSON. */
function control(string $method, string $path, ?array $body = null): array
{
    global $STANDIN;
    $ch = curl_init($STANDIN . $path);
    $h = [];
    if ($body !== null) {
        curl_setopt($ch, CURLOPT_POSTFIELDS, json_encode($body));
        $h[] = 'Content-Type: application/json';
    } elseif ($method === 'POST') {
        curl_setopt($ch, CURLOPT_POSTFIELDS, '{}');
        $h[] = 'Content-Type: application/json';
    }
    curl_setopt_array($ch, [CURLOPT_CUSTOMREQUEST => $method, CURLOPT_HTTPHEADER => $h,
        CURLOPT_RETURNTRANSFER => true, CURLOPT_TIMEOUT => 15]);
    $raw = curl_exec($ch);
    $status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
    if ($raw === false || $status !== 200) {
        throw new RuntimeException("stand-in $method $path: HTTP $status " . curl_error($ch) . " $raw");
    }
    return json_decode($raw, true, 512, JSON_BIGINT_AS_STRING);
}

function quota(string $openId, string $tpl, int $n = 1): int
{
    return control('POST', '/__control/quota',
        ['openid' => $openId, 'template_id' => $tpl, 'count' => $n])['count'];
}

function quotaLeft(string $openId, string $tpl): int
{
    return control('GET', '/__control/quota?openid=' . $openId . '&template_id=' . $tpl)['count'];
}

function sendCalls(): int
{
    return control('GET', '/__control/stats?sent=1')['calls']['send'];
}

function fault(string $endpoint, string $kind, array $more = []): void
{
    control('POST', '/__control/fault', ['endpoint' => $endpoint, 'kind' => $kind] + $more);
}

/** One Redis command over RESP (no extension needed). */
function redis(string ...$args)
{
    global $REDIS_PORT;
    $s = @fsockopen('127.0.0.1', $REDIS_PORT, $errno, $errstr, 2.0);
    if ($s === false) {
        throw new RuntimeException("redis: $errstr");
    }
    $cmd = '*' . count($args) . "\r\n";
    foreach ($args as $a) {
        $cmd .= '$' . strlen($a) . "\r\n" . $a . "\r\n";
    }
    fwrite($s, $cmd);
    $line = fgets($s);
    fclose($s);
    return $line === false ? null : rtrim($line, "\r\n");
}

$wx = new WxsubClient($URL, $KEY);

// ---- the happy path and the outcome table ------------------------------------

check('health() answers ok with redis ok', function () use ($wx) {
    $h = $wx->health();
    eq(true, $h['ok'], 'ok');
    eq('ok', $h['redis'], 'redis');
    ok(is_string($h['version']), 'a version');
});

check('record -> 1 credit; send -> numeric-string msgid; then 0; then not_subscribed',
    function () use ($wx, $TPL1) {
        $o = oid('happy');
        eq([$TPL1 => 1], $wx->record($o, $TPL1), 'record() returns the credits');
        eq(1, $wx->subscriptions($o)[$TPL1], 'subscriptions after record');
        quota($o, $TPL1);
        $msgid = $wx->send($o, ['thing1' => '村民反馈：路灯不亮', 'time3' => '2026-11-29 10:30'],
            $TPL1, 'pages/detail/detail?id=7');
        ok(is_string($msgid) && preg_match('/^[1-9][0-9]{15,19}$/', $msgid) === 1,
            "msgid is a numeric string: " . var_export($msgid, true));
        $sent = control('GET', '/__control/stats?sent=1')['sent'];
        eq((string)end($sent)['msgid'], $msgid, 'the msgid is exactly the one WeChat gave');
        eq($o, end($sent)['touser'], 'sent to the user');
        eq(['value' => '村民反馈：路灯不亮'], end($sent)['data']['thing1'], 'data as WeChat wants it');
        eq(0, $wx->subscriptions($o)[$TPL1], 'subscriptions after send');
        ok(is_string($wx->lastRequestId()) && $wx->lastRequestId() !== '', 'lastRequestId()');
        $calls = sendCalls();
        $e = throws(NotSubscribedException::class, function () use ($wx, $o, $TPL1) {
            return $wx->send($o, ['thing1' => 'again'], $TPL1);
        });
        wxerr($e, 'not_subscribed', 409, null);
        eq($calls, sendCalls(), 'WeChat was not called');
    });

check('send without templateId uses wechat.templateId', function () use ($wx, $TPL1) {
    $o = oid('default');
    $wx->record($o, [$TPL1]);
    quota($o, $TPL1);
    ok(preg_match('/^[0-9]+$/', $wx->send($o, ['thing1' => 'hi'])) === 1, 'a msgid');
    eq(0, $wx->subscriptions($o)[$TPL1], 'the default template\'s credit was used');
});

check('WeChat 43101 (no quota at WeChat) -> UserRefusedException, credits cleared',
    function () use ($wx, $TPL1) {
        $o = oid('refused');
        $wx->record($o, $TPL1);
        $wx->record($o, $TPL1);
        eq(2, $wx->subscriptions($o)[$TPL1], 'two credits at wxsub');
        $e = throws(UserRefusedException::class, function () use ($wx, $o, $TPL1) {
            return $wx->send($o, ['thing1' => 'hello'], $TPL1);
        });
        wxerr($e, 'user_refused', 409, 43101);
        eq(0, $wx->subscriptions($o)[$TPL1], 'credits cleared');
    });

check('thing1 of 21 characters -> InvalidDataException 422 naming thing1, no WeChat call',
    function () use ($wx, $TPL1) {
        $o = oid('invalid');
        $wx->record($o, $TPL1);
        quota($o, $TPL1);
        $calls = sendCalls();
        $e = throws(InvalidDataException::class, function () use ($wx, $o, $TPL1) {
            return $wx->send($o, ['thing1' => str_repeat('字', 21)], $TPL1);
        });
        wxerr($e, 'invalid_data', 422, null);
        ok(strpos($e->getMessage(), 'thing1') !== false, 'the message names thing1: ' . $e->getMessage());
        eq($calls, sendCalls(), 'WeChat was not called');
        eq(1, $wx->subscriptions($o)[$TPL1], 'credit kept');
        // 20 characters are fine
        ok(preg_match('/^[0-9]+$/', $wx->send($o, ['thing1' => str_repeat('字', 20)], $TPL1)) === 1,
            '20 characters are sent');
    });

check('data as {"value": ...} is accepted too', function () use ($wx, $TPL2) {
    $o = oid('valueform');
    $wx->record($o, $TPL2);
    quota($o, $TPL2);
    ok(preg_match('/^[0-9]+$/', $wx->send($o, ['thing1' => ['value' => '好']], $TPL2)) === 1, 'a msgid');
});

check('sensitive words -> SensitiveContentException (an InvalidDataException) 45168',
    function () use ($wx, $TPL1) {
        $o = oid('sensitive');
        $wx->record($o, $TPL1);
        quota($o, $TPL1);
        $e = throws(SensitiveContentException::class, function () use ($wx, $o, $TPL1) {
            return $wx->send($o, ['thing1' => '敏感词'], $TPL1);
        });
        ok($e instanceof InvalidDataException, 'is an InvalidDataException');
        wxerr($e, 'sensitive_content', 422, 45168);
        eq(1, $wx->subscriptions($o)[$TPL1], 'credit kept');
    });

check('GBK bytes in data -> InvalidDataException before sending', function () use ($wx, $TPL1) {
    $o = oid('gbk');
    $e = throws(InvalidDataException::class, function () use ($wx, $o, $TPL1) {
        return $wx->send($o, ['thing1' => "\xC2\xB7\xB5\xC6"], $TPL1);   // "路灯" in GBK
    });
    wxerr($e, 'invalid_data', 0, null);
});

check('empty data -> BadRequestException bad_request', function () use ($wx, $TPL1) {
    $o = oid('emptydata');
    $wx->record($o, $TPL1);
    $e = throws(BadRequestException::class, function () use ($wx, $o, $TPL1) {
        return $wx->send($o, [], $TPL1);
    });
    wxerr($e, 'bad_request', 400, null);
});

check('template WeChat does not know -> BadRequestException invalid_template 40037',
    function () use ($wx, $TPL_UNKNOWN) {
        $o = oid('badtpl');
        $wx->record($o, $TPL_UNKNOWN);
        $e = throws(BadRequestException::class, function () use ($wx, $o, $TPL_UNKNOWN) {
            return $wx->send($o, ['thing1' => 'hello'], $TPL_UNKNOWN);
        });
        wxerr($e, 'invalid_template', 400, 40037);
        eq(1, $wx->subscriptions($o)[$TPL_UNKNOWN], 'credit kept');
    });

check('WeChat 43107 -> ForbiddenException template_banned; 45009 -> RateLimitedException',
    function () use ($wx, $TPL1) {
        $o = oid('faults');
        $wx->record($o, $TPL1);
        quota($o, $TPL1);
        fault('send', 'errcode', ['errcode' => 43107]);
        $e = throws(ForbiddenException::class, function () use ($wx, $o, $TPL1) {
            return $wx->send($o, ['thing1' => 'hello'], $TPL1);
        });
        wxerr($e, 'template_banned', 403, 43107);
        fault('send', 'errcode', ['errcode' => 45009]);
        $e = throws(RateLimitedException::class, function () use ($wx, $o, $TPL1) {
            return $wx->send($o, ['thing1' => 'hello'], $TPL1);
        });
        wxerr($e, 'quota_exceeded', 429, 45009);
        eq(1, $wx->subscriptions($o)[$TPL1], 'credit kept');
    });

check('a WeChat delay longer than wechat.timeoutMs -> UpstreamException 502, credit kept',
    function () use ($wx, $TPL1, $WX_TIMEOUT_MS) {
        $o = oid('slow');
        $wx->record($o, $TPL1);
        quota($o, $TPL1);
        fault('send', 'delay', ['delay_ms' => $WX_TIMEOUT_MS + 1500]);
        $t0 = microtime(true);
        $e = throws(UpstreamException::class, function () use ($wx, $o, $TPL1) {
            return $wx->send($o, ['thing1' => 'hello'], $TPL1);
        });
        $took = microtime(true) - $t0;
        wxerr($e, 'upstream_error', 502, null);
        ok($took < ($WX_TIMEOUT_MS + 1400) / 1000, sprintf('gave up after wechat.timeoutMs (%.2f s)', $took));
        eq(1, $wx->subscriptions($o)[$TPL1], 'credit kept');
    });

check('WeChat drops the connection -> UpstreamException 502', function () use ($wx, $TPL1) {
    $o = oid('drop');
    $wx->record($o, $TPL1);
    quota($o, $TPL1);
    fault('send', 'drop');
    $e = throws(UpstreamException::class, function () use ($wx, $o, $TPL1) {
        return $wx->send($o, ['thing1' => 'hello'], $TPL1);
    });
    wxerr($e, 'upstream_error', 502, null);
});

check('no token to be had -> UnavailableException 503 token_unavailable',
    function () use ($wx, $TPL1) {
        $o = oid('notoken');
        $wx->record($o, $TPL1);
        quota($o, $TPL1);
        fault('*', 'http500', ['count' => -1]);
        redis('DEL', 'WECHAT:ACCESS_TOKEN');
        try {
            $e = throws(UnavailableException::class, function () use ($wx, $o, $TPL1) {
                return $wx->send($o, ['thing1' => 'hello'], $TPL1);
            });
        } finally {
            control('DELETE', '/__control/fault');
        }
        wxerr($e, 'token_unavailable', 503, null);
        eq(1, $wx->subscriptions($o)[$TPL1], 'credit kept');
        // wxsub remembers the failed fetch for 2 s: no retry storm at WeChat
        $e = throws(UnavailableException::class, function () use ($wx, $o, $TPL1) {
            return $wx->send($o, ['thing1' => 'hello'], $TPL1);
        });
        ok(strpos($e->getMessage(), 'not retried') !== false, 'back-off said');
        usleep(2100000);
        ok(preg_match('/^[0-9]+$/', $wx->send($o, ['thing1' => 'hello'], $TPL1)) === 1,
            'sends again once WeChat answers and the back-off is over');
    });

check('long-term template: one record, many sends, no credit used', function () use ($wx, $TPL_LONG) {
    $o = oid('longterm');
    $wx->record($o, $TPL_LONG);
    quota($o, $TPL_LONG);
    $a = $wx->send($o, ['thing1' => 'one'], $TPL_LONG);
    $b = $wx->send($o, ['thing1' => 'two'], $TPL_LONG);
    ok($a !== $b, 'two messages');
    eq(1, $wx->subscriptions($o)[$TPL_LONG], 'the marker stays');
});

// ---- record, recordResult, forget ----------------------------------------------

check('recordResult with accept and reject: only accept counts', function () use ($wx, $TPL1, $TPL2) {
    $o = oid('popup');
    $r = $wx->recordResult($o, [$TPL1 => 'accept', $TPL2 => 'reject',
        'errMsg' => 'requestSubscribeMessage:ok']);
    eq([$TPL1 => 1], $r['credits'], 'credits');
    eq([$TPL2 => 'reject'], $r['skipped'], 'skipped');
    $s = $wx->subscriptions($o);
    eq(1, $s[$TPL1], 'TPL1');
    eq(0, $s[$TPL2], 'TPL2');
    $r = $wx->recordResult($o, [$TPL1 => 'accept', 'errMsg' => 'requestSubscribeMessage:ok']);
    eq([$TPL1 => 2], $r['credits'], 'accepts accumulate');
    eq([], $r['skipped'], 'nothing skipped');
});

check('recordResult: an accept with a reminder (acceptWithAudio) counts', function () use ($wx, $TPL3) {
    $o = oid('popupaudio');
    $r = $wx->recordResult($o, [$TPL3 => 'acceptWithAudio', 'errMsg' => 'requestSubscribeMessage:ok']);
    eq([$TPL3 => 1], $r['credits'], 'credits');
    eq(1, $wx->subscriptions($o)[$TPL3], 'recorded');
});

check('recordResult with ban/filter only: nothing recorded, all skipped',
    function () use ($wx, $TPL1, $TPL2) {
        $o = oid('popupban');
        $r = $wx->recordResult($o, [$TPL1 => 'ban', $TPL2 => 'filter',
            'errMsg' => 'requestSubscribeMessage:ok']);
        eq([], $r['credits'], 'credits');
        eq([$TPL1 => 'ban', $TPL2 => 'filter'], $r['skipped'], 'skipped');
        eq(0, $wx->subscriptions($o)[$TPL1], 'nothing recorded');
    });

check('recordResult of a failed popup -> BadRequestException', function () use ($wx, $TPL1) {
    $o = oid('popupfail');
    $e = throws(BadRequestException::class, function () use ($wx, $o, $TPL1) {
        return $wx->recordResult($o, [$TPL1 => 'accept', 'errMsg' => 'requestSubscribeMessage:fail']);
    });
    wxerr($e, 'bad_request', 400, null);
    eq(0, $wx->subscriptions($o)[$TPL1], 'nothing recorded');
});

check('record: 4 templates -> bad_request; unconfigured -> unknown_template; bad openId',
    function () use ($wx, $TPL1, $TPL2, $TPL3, $TPL_LONG) {
        $o = oid('recordbad');
        $e = throws(BadRequestException::class, function () use ($wx, $o, $TPL1, $TPL2, $TPL3, $TPL_LONG) {
            return $wx->record($o, [$TPL1, $TPL2, $TPL3, $TPL_LONG]);
        });
        wxerr($e, 'bad_request', 400, null);
        $e = throws(BadRequestException::class, function () use ($wx, $o) {
            return $wx->record($o, 'TPL_NOT_CONFIGURED');
        });
        wxerr($e, 'unknown_template', 400, null);
        $e = throws(BadRequestException::class, function () use ($wx, $TPL1) {
            return $wx->record('not-an-openid', $TPL1);
        });
        wxerr($e, 'bad_request', 400, null);
        eq(0, $wx->subscriptions($o)[$TPL1], 'nothing recorded');
    });

check('forget one template, then all', function () use ($wx, $TPL1, $TPL2, $TPL3) {
    $o = oid('forget');
    $wx->record($o, [$TPL1, $TPL2, $TPL3]);
    eq(1, $wx->forget($o, $TPL1), 'one deleted');
    $s = $wx->subscriptions($o);
    eq([0, 1, 1], [$s[$TPL1], $s[$TPL2], $s[$TPL3]], 'TPL1 forgotten, the others kept');
    eq(2, $wx->forget($o), 'the rest deleted');
    eq(0, array_sum($wx->subscriptions($o)), 'nothing left');
    eq(0, $wx->forget($o), 'forgetting nothing is fine');
});

check('a msgid above 2^63 comes back exact (a fake wxsub: php -S)', function () use ($KEY) {
    // WeChat's msgid is 64-bit and wxsub passes it on as an unsigned number;
    // the stand-in's stay below 2^63, so this one check uses a fake answer.
    $dir = sys_get_temp_dir() . '/wxsub-php-fake-' . getmypid();
    @mkdir($dir);
    file_put_contents($dir . '/router.php', '<?php header("Content-Type: application/json; charset=utf-8");'
        . ' header("X-Request-Id: fake0000000000001");'
        . ' echo \'{"ok":true,"msgid":18446744073709551615}\';');
    $s = stream_socket_server('tcp://127.0.0.1:0');
    $port = (int)substr(strrchr(stream_socket_get_name($s, false), ':'), 1);
    fclose($s);
    $proc = proc_open([PHP_BINARY, '-S', "127.0.0.1:$port", $dir . '/router.php'],
        [0 => ['file', '/dev/null', 'r'], 1 => ['file', '/dev/null', 'w'], 2 => ['file', '/dev/null', 'w']], $pipes);
    try {
        $c = new WxsubClient("http://127.0.0.1:$port/cgi-bin/wxsub.fcgi", $KEY);
        $msgid = null;
        for ($i = 0; $i < 100 && $msgid === null; $i++) {
            try {
                $msgid = $c->send(oid('bigint'), ['thing1' => 'x']);
            } catch (TransportException $e) {
                usleep(50000);   // php -S still starting
            }
        }
        eq('18446744073709551615', $msgid, 'the msgid, digit for digit');
    } finally {
        proc_terminate($proc);
        proc_close($proc);
        @unlink($dir . '/router.php');
        @rmdir($dir);
    }
});

// ---- request ids -------------------------------------------------------------------

check('X-Request-Id: sent when given, echoed in exceptions and lastRequestId()',
    function () use ($wx, $URL, $KEY, $TPL1) {
        $o = oid('reqid');
        $e = throws(NotSubscribedException::class, function () use ($wx, $o, $TPL1) {
            return $wx->send($o, ['thing1' => 'x'], $TPL1, null, ['requestId' => 'php-test-0001']);
        });
        eq('php-test-0001', $e->getRequestId(), 'the exception carries the id sent');
        $c = $wx->withRequestId('php-page-42');
        $c->subscriptions($o);
        eq('php-page-42', $c->lastRequestId(), 'withRequestId()');
        $d = new WxsubClient($URL, $KEY, ['requestId' => 'php-opt-7']);
        $d->subscriptions($o);
        eq('php-opt-7', $d->lastRequestId(), 'the requestId option');
        $wx->subscriptions($o);
        ok($wx->lastRequestId() !== 'php-page-42' && $wx->lastRequestId() !== null,
            'the original client sends none (wxsub makes one)');
        throws(InvalidArgumentException::class, function () use ($wx) {
            return $wx->withRequestId("bad\r\nX-Evil: 1");
        });
    });

// ---- credentials, transport ----------------------------------------------------------

check('wrong api key -> UnauthorizedException; the key is in no message or trace',
    function () use ($URL, $KEY, $TPL1) {
        $wrong = 'wrong-key-' . bin2hex(random_bytes(8));
        $bad = new WxsubClient($URL, $wrong);
        $o = oid('unauth');
        foreach ([
            function () use ($bad, $o, $TPL1) { return $bad->send($o, ['thing1' => 'x'], $TPL1); },
            function () use ($bad, $o) { return $bad->subscriptions($o); },
            function () use ($bad, $o, $TPL1) { return $bad->record($o, $TPL1); },
        ] as $fn) {
            $e = throws(UnauthorizedException::class, $fn);
            wxerr($e, 'unauthorized', 401, null);
            ok(!leaks($e, $wrong), 'the wrong key is not in the exception');
            ok(!leaks($e, $KEY), 'the real key is not in the exception');
        }
        ob_start();
        var_dump($bad);
        print_r($bad);
        $dump = ob_get_clean();
        ok(strpos($dump, $wrong) === false, 'var_dump/print_r hide the key');
    });

check('constructor errors name neither the key nor show it in the trace', function () use ($KEY) {
    foreach ([
        function () use ($KEY) { return new WxsubClient('ftp://host/x', $KEY); },
        function () use ($KEY) { return new WxsubClient('http://127.0.0.1/x', $KEY, ['timeout' => 5]); },
        function () use ($KEY) { return new WxsubClient('http://127.0.0.1/x', $KEY, ['timeoutMs' => 0]); },
    ] as $fn) {
        $e = throws(InvalidArgumentException::class, $fn);
        ok(!leaks($e, $KEY), 'the key is not in the exception: ' . $e->getMessage());
    }
});

check('base URL at a closed port -> TransportException connect_failed, quickly', function () use ($KEY) {
    $s = stream_socket_server('tcp://127.0.0.1:0');
    $port = (int)substr(strrchr(stream_socket_get_name($s, false), ':'), 1);
    fclose($s);
    $c = new WxsubClient("http://127.0.0.1:$port/cgi-bin/wxsub.fcgi", $KEY);
    $t0 = microtime(true);
    $e = throws(TransportException::class, function () use ($c) {
        return $c->subscriptions(oid('closed'));
    });
    $took = microtime(true) - $t0;
    wxerr($e, 'connect_failed', 0, null);
    ok($took < 1.0, sprintf('fails at once (%.3f s)', $took));
    ok($e->getCurlErrno() === 7, 'curl errno 7');
    ok(!leaks($e, $KEY), 'no key in the exception');
});

check('a server that never answers -> TransportException timeout within timeoutMs',
    function () use ($KEY) {
        // The kernel completes the connection (backlog); nobody ever answers.
        $s = stream_socket_server('tcp://127.0.0.1:0');
        $port = (int)substr(strrchr(stream_socket_get_name($s, false), ':'), 1);
        $c = new WxsubClient("http://127.0.0.1:$port/cgi-bin/wxsub.fcgi", $KEY,
            ['connectTimeoutMs' => 300, 'timeoutMs' => 700]);
        $t0 = microtime(true);
        $e = throws(TransportException::class, function () use ($c) {
            return $c->health();
        });
        $took = microtime(true) - $t0;
        fclose($s);
        wxerr($e, 'timeout', 0, null);
        ok($e->isTimeout(), 'isTimeout()');
        ok($took >= 0.6 && $took < 2.0, sprintf('after about 700 ms (%.3f s)', $took));
    });

check('an answer that is not wxsub\'s -> TransportException bad_answer', function () use ($URL, $KEY, $STANDIN) {
    $p = parse_url($URL);
    // lighttpd's own 404 page
    $c = new WxsubClient($p['scheme'] . '://' . $p['host'] . ':' . $p['port'] . '/no/such/script', $KEY);
    $e = throws(TransportException::class, function () use ($c) {
        return $c->health();
    });
    eq('bad_answer', $e->getErrorCode(), 'getErrorCode()');
    eq(404, $e->getHttpStatus(), 'getHttpStatus()');
    eq(null, $e->getRequestId(), 'no X-Request-Id: not wxsub');
    // JSON, but not wxsub's (the stand-in's 404 is WeChat's errcode shape)
    $c = new WxsubClient($STANDIN . '/cgi-bin/wxsub.fcgi', $KEY);
    $e = throws(TransportException::class, function () use ($c) {
        return $c->subscriptions(oid('notwxsub'));
    });
    eq('bad_answer', $e->getErrorCode(), 'getErrorCode()');
    ok(!leaks($e, $KEY), 'no key in the exception');
});

check('a route wxsub does not have -> BadRequestException not_found (base URL with a slash)',
    function () use ($URL, $KEY) {
        $c = new WxsubClient($URL . '/', $KEY);
        eq(true, $c->health()['ok'], 'a trailing slash on the base URL is fine');
        $c = new WxsubClient($URL . '/v2', $KEY);
        $e = throws(BadRequestException::class, function () use ($c) {
            return $c->health();
        });
        wxerr($e, 'not_found', 404, null);
    });

// ---- the outbox: sendAsync, sendBatch, message, batch, idempotencyKey ---------

/** Drain the outbox once, as cron would. */
function drain(): void
{
    exec(env('WXSUB_WORKER') . ' 2>&1', $out, $rc);
    if ($rc !== 0) {
        throw new RuntimeException('worker --once: ' . implode("\n", $out));
    }
}

check('sendAsync -> id, queued; after the worker: sent with a msgid string',
    function () use ($wx, $TPL1) {
        $o = oid('async');
        $wx->record($o, $TPL1);
        quota($o, $TPL1);
        $calls = sendCalls();
        $id = $wx->sendAsync($o, ['thing1' => 'hello'], $TPL1);
        ok(is_string($id) && $id !== '', 'an id');
        $m = $wx->message($id);
        eq('queued', $m['status'], 'status before');
        eq(0, $wx->subscriptions($o)[$TPL1], 'credit taken when queued');
        drain();
        $m = $wx->message($id);
        eq('sent', $m['status'], 'status after');
        ok(is_string($m['msgid']) && preg_match('/^[0-9]+$/', $m['msgid']) === 1,
            'msgid as a string');
        eq(1, $m['attempts'], 'one attempt');
        eq($calls + 1, sendCalls(), 'one send');
    });

check('sendAsync without a credit -> NotSubscribedException, nothing queued',
    function () use ($wx, $TPL1) {
        $e = throws(NotSubscribedException::class, function () use ($wx, $TPL1) {
            return $wx->sendAsync(oid('async-none'), ['thing1' => 'x'], $TPL1);
        });
        wxerr($e, 'not_subscribed', 409, null);
    });

check('sendBatch -> batch, messages, refused; batch() counts; idempotencyKey replays',
    function () use ($wx, $TPL1) {
        $a = oid('batch-a');
        $b = oid('batch-b');
        $c = oid('batch-c');
        foreach ([$a, $b] as $o) {
            $wx->record($o, $TPL1);
            quota($o, $TPL1);
        }
        $opts = ['idempotencyKey' => 'feedback-42'];
        $calls = sendCalls();
        $r = $wx->sendBatch([$a, $b, $a, $c], ['thing1' => 'hi'], $TPL1, null, $opts);
        eq(2, $r['queued'], 'queued');
        eq([$a, $b], array_keys($r['messages']), 'messages by openId');
        eq([$c => 'not_subscribed'], $r['refused'], 'refused');
        eq($r, $wx->sendBatch([$a, $b, $a, $c], ['thing1' => 'hi'], $TPL1, null, $opts),
            'the same key and body: the same answer');
        $e = throws(IdempotencyException::class, function () use ($wx, $a, $TPL1, $opts) {
            return $wx->sendBatch([$a], ['thing1' => 'other'], $TPL1, null, $opts);
        });
        wxerr($e, 'idempotency_key_reused', 422, null);
        eq(2, $wx->batch($r['batch'])['queued'], 'counted queued');
        drain();
        eq(2, $wx->batch($r['batch'])['sent'], 'counted sent');
        eq($calls + 2, sendCalls(), 'each sent once');
        $e = throws(BadRequestException::class, function () use ($wx) {
            return $wx->message('m_000000000000000000');
        });
        wxerr($e, 'not_found', 404, null);
        throws(InvalidArgumentException::class, function () use ($wx, $a, $TPL1) {
            return $wx->sendAsync($a, ['thing1' => 'x'], $TPL1, null,
                ['idempotencyKey' => 'has space']);
        });
    });

check('send with idempotencyKey: a retry answers the first msgid, sends nothing',
    function () use ($wx, $TPL1) {
        $o = oid('idem-send');
        $wx->record($o, $TPL1);
        quota($o, $TPL1);
        $calls = sendCalls();
        $first = $wx->send($o, ['thing1' => 'x'], $TPL1, null, ['idempotencyKey' => 'k-1']);
        eq($first, $wx->send($o, ['thing1' => 'x'], $TPL1, null, ['idempotencyKey' => 'k-1']),
            'same msgid');
        eq($calls + 1, sendCalls(), 'one send');
    });

check('app: a bad app name is refused; an app\'s routes are /<app>/...; health() stays the install\'s',
    function () use ($URL, $KEY) {
        throws(InvalidArgumentException::class, function () use ($URL, $KEY) {
            return new WxsubClient($URL, $KEY, ['app' => 'Bad_Name']);
        });
        $shop = new WxsubClient($URL, $KEY, ['app' => 'shop']);
        eq(true, $shop->health()['ok'], 'health() unprefixed');
        // this wxsub is one file: /shop/subscriptions is no route
        $e = throws(WxsubException::class, function () use ($shop) {
            return $shop->subscriptions(oid('app'));
        });
        eq(404, $e->getHttpStatus(), 'the 404 of /shop/subscriptions');
        eq('not_found', $e->getErrorCode(), 'not_found');
    });

// Last: stops Redis (tests/clients/run.py starts it again before the next suite).
check('Redis down -> health() and subscriptions() throw UnavailableException 503',
    function () use ($wx) {
        redis('SHUTDOWN', 'NOSAVE');
        $e = throws(UnavailableException::class, function () use ($wx) {
            return $wx->health();
        });
        wxerr($e, 'redis_unavailable', 503, null);
        $e = throws(UnavailableException::class, function () use ($wx) {
            return $wx->subscriptions(oid('noredis'));
        });
        wxerr($e, 'redis_unavailable', 503, null);
    });

printf("\n%d passed, %d failed\n", $passed, count($failed));
foreach ($failed as $f) {
    echo "  FAILED: $f\n";
}
exit($failed ? 1 : 0);
