<?php
/**
 * WxsubClient.php: the PHP side of wxsub (WeChat Mini Program subscribe
 * messages), in one file. PHP 7.4 or 8.x with ext-curl and ext-json; no
 * composer, no other dependency.
 *
 * Usage: a villager filed feedback, tell the grid worker.
 *
 *     require_once '/path/to/WxsubClient.php';
 *
 *     use Wxsub\WxsubClient;
 *     use Wxsub\WxsubException;
 *     use Wxsub\NotSubscribedException;
 *     use Wxsub\UserRefusedException;
 *
 *     $wx = new WxsubClient('https://example.com/cgi-bin/wxsub.fcgi',
 *                           getenv('WXSUB_API_KEY'),
 *                           ['connectTimeoutMs' => 2000, 'timeoutMs' => 10000]);
 *     try {
 *         $msgid = $wx->send($worker['openid'], [
 *             'thing1' => '村民反馈：路灯不亮',        // at most 20 characters
 *             'time3'  => date('Y-m-d H:i'),
 *         ], null, 'pages/detail/detail?id=' . $feedbackId);
 *         // $msgid is a string such as "3248682510344192008"
 *     } catch (NotSubscribedException $e) {
 *         // nothing recorded for this worker: ask them to subscribe again
 *     } catch (UserRefusedException $e) {
 *         // WeChat says the worker has no subscription left (errcode 43101)
 *     } catch (WxsubException $e) {
 *         error_log(sprintf('wxsub: %s [%s, errcode %s, HTTP %d, request %s]',
 *             $e->getMessage(), $e->getErrorCode(), var_export($e->getErrcode(), true),
 *             $e->getHttpStatus(), $e->getRequestId()));
 *     }
 *
 * Every method throws a WxsubException subclass on failure:
 *
 *   class                        getErrorCode()                     HTTP
 *   NotSubscribedException       not_subscribed                     409
 *   UserRefusedException         user_refused (errcode 43101)       409
 *   InvalidDataException         invalid_data                       422, or 400 with errcode 47003,
 *                                                                   or 0 when the data is not UTF-8
 *     SensitiveContentException  sensitive_content (45168)          422
 *   BadRequestException          bad_request, unknown_template,     400 (404, 405, 413, 415)
 *                                invalid_openid, invalid_template,
 *                                invalid_page, invalid_code, ...
 *   UnauthorizedException        unauthorized                       401
 *   ForbiddenException           template_banned (43107), forbidden 403
 *   RateLimitedException         quota_exceeded (45009), rate_limited 429
 *   UpstreamException            upstream_error                     502
 *   UnavailableException         token_unavailable, redis_unavailable 503
 *   ServerException              config_error, internal_error       500
 *   IdempotencyException         idempotency_in_flight,             409
 *                                idempotency_key_reused             422
 *   TransportException           connect_failed, timeout,           0, or the status of an answer
 *                                bad_answer, transport_error        that is not wxsub's JSON
 *
 * A TransportException during send() may come after wxsub received the
 * request: the message may or may not have gone out. Do not retry a send
 * blindly; the other methods are safe to repeat. With an idempotencyKey
 * option (send, sendAsync, sendBatch) a retry with the same key and data
 * is safe: wxsub answers the first answer again and sends nothing twice.
 *
 * Many users, or no wait: sendAsync() queues one message and returns its
 * id at once (wxsub's worker sends it); sendBatch() queues one per openId.
 * message($id) and batch($id) say what became of them:
 *
 *     $b = $wx->sendBatch($gridWorkerOpenIds, ['thing1' => '村民反馈：路灯不亮'],
 *                         null, 'pages/detail/detail?id=' . $feedbackId,
 *                         ['idempotencyKey' => 'feedback-' . $feedbackId]);
 *     // $b['batch'], $b['queued'], $b['messages'][openId] => id, $b['refused'][openId]
 *     $m = $wx->message($b['messages'][$someOpenId]);   // ['status' => 'sent', ...]
 *
 * The api key is sent only in the Authorization header: it never appears
 * in an exception message, in var_dump() or print_r() of the client, or in a
 * stack trace's arguments (only the constructor takes it, as a
 * #[SensitiveParameter], and its own errors are scrubbed on older PHP too).
 */

namespace Wxsub;

/**
 * Anything that went wrong talking to wxsub.
 */
class WxsubException extends \RuntimeException
{
    /** @var string */
    private $errorCode;
    /** @var int|null */
    private $errcode;
    /** @var int */
    private $httpStatus;
    /** @var string|null */
    private $requestId;

    /**
     * @param string      $message    human text (never holds the api key)
     * @param string      $errorCode  the contract's "error", or a client-side code
     * @param int|null    $errcode    WeChat's errcode when wxsub reported one
     * @param int         $httpStatus the HTTP status, 0 when there was no answer
     * @param string|null $requestId  the answer's X-Request-Id (else the one sent)
     */
    public function __construct(string $message, string $errorCode, ?int $errcode = null,
                                int $httpStatus = 0, ?string $requestId = null,
                                ?\Throwable $previous = null)
    {
        parent::__construct($message, $httpStatus, $previous);
        $this->errorCode = $errorCode;
        $this->errcode = $errcode;
        $this->httpStatus = $httpStatus;
        $this->requestId = $requestId;
    }

    /** The contract's error code ("not_subscribed", ...), or a client-side one. */
    public function getErrorCode(): string
    {
        return $this->errorCode;
    }

    /** WeChat's errcode (43101, 47003, ...) when wxsub gave one, else null. */
    public function getErrcode(): ?int
    {
        return $this->errcode;
    }

    /** The HTTP status of wxsub's answer; 0 when there was none. */
    public function getHttpStatus(): int
    {
        return $this->httpStatus;
    }

    /** X-Request-Id of the answer (the one sent when no answer came), or null. */
    public function getRequestId(): ?string
    {
        return $this->requestId;
    }
}

/** 409 not_subscribed: no credit recorded for this user and template; WeChat was not called. */
class NotSubscribedException extends WxsubException {}

/** 409 user_refused, errcode 43101: WeChat has no subscription left; wxsub cleared its credits. */
class UserRefusedException extends WxsubException {}

/** 422 invalid_data (checked before WeChat), 400 invalid_data (WeChat's 47003), or data that is not UTF-8. */
class InvalidDataException extends WxsubException {}

/** 422 sensitive_content, errcode 45168: WeChat found sensitive words. */
class SensitiveContentException extends InvalidDataException {}

/** Any other 4xx caused by the request: bad_request, unknown_template, invalid_openid, invalid_template, invalid_page, ... */
class BadRequestException extends WxsubException {}

/** 401 unauthorized: missing or wrong api key. */
class UnauthorizedException extends WxsubException {}

/** 403 template_banned (43107) or forbidden (40226). */
class ForbiddenException extends WxsubException {}

/** 429 quota_exceeded (45009, WeChat's daily quota) or rate_limited (45011). */
class RateLimitedException extends WxsubException {}

/** 502 upstream_error: WeChat failed to answer properly (the credit was given back). */
class UpstreamException extends WxsubException {}

/** 503 token_unavailable or redis_unavailable: try again later. */
class UnavailableException extends WxsubException {}

/** 500 config_error or internal_error: wxsub itself is broken or misconfigured. */
class ServerException extends WxsubException {}

/** idempotency_in_flight (409: the first request with the key is still running;
 *  retry later) or idempotency_key_reused (422: the key went with another body). */
class IdempotencyException extends WxsubException {}

/**
 * No usable answer: connection failed, time-out, or an answer that is not
 * wxsub's JSON (a web server's error page, a wrong base URL). getErrorCode()
 * is "connect_failed", "timeout", "bad_answer" or "transport_error".
 */
class TransportException extends WxsubException
{
    /** @var int */
    private $curlErrno;

    public function __construct(string $message, string $errorCode, int $httpStatus = 0,
                                ?string $requestId = null, int $curlErrno = 0)
    {
        parent::__construct($message, $errorCode, null, $httpStatus, $requestId);
        $this->curlErrno = $curlErrno;
    }

    /** curl's error number (0 when curl itself succeeded). */
    public function getCurlErrno(): int
    {
        return $this->curlErrno;
    }

    /** True when the connect or total time limit ran out. */
    public function isTimeout(): bool
    {
        return $this->getErrorCode() === 'timeout';
    }
}

/**
 * A client of one wxsub service, for server-to-server calls with an api key.
 * One instance keeps one curl handle, so consecutive calls reuse the connection.
 */
class WxsubClient
{
    const VERSION = '0.1.0';

    /** The largest answer read, in bytes (wxsub's are a few hundred). */
    const MAX_ANSWER = 1048576;

    /** @var string */
    private $baseUrl;
    /** @var string */
    private $apiKey;
    /** @var array */
    private $options;
    /** @var resource|\CurlHandle|null */
    private $curl = null;
    /** @var string|null */
    private $lastRequestId = null;

    private static $defaults = [
        'connectTimeoutMs' => 2000,   // connecting (DNS, TCP, TLS)
        'timeoutMs' => 10000,         // one whole call; keep it above wechat.timeoutMs
        'caInfo' => null,             // CA bundle file (CURLOPT_CAINFO)
        'caPath' => null,             // CA directory (CURLOPT_CAPATH)
        'verifyTls' => true,          // false turns TLS verification off: never in production
        'requestId' => null,          // X-Request-Id sent with every call, unless a call gives one
        'userAgent' => null,          // default "wxsub-php/VERSION"
        'app' => null,                // the app's name on a wxsub serving several (its NAME.conf)
    ];

    /**
     * @param string $baseUrl the script's URL, e.g. https://host/cgi-bin/wxsub.fcgi
     * @param string $apiKey  one of wxsub's auth.apiKeys
     * @param array  $options connectTimeoutMs (2000), timeoutMs (10000), caInfo, caPath,
     *                        verifyTls (true), requestId, userAgent, app (on a wxsub serving
     *                        several mini programs: the app's name, and the routes become
     *                        /<app>/send ...; /health stays the install's)
     * @throws \InvalidArgumentException on a bad URL or option (never naming the key)
     */
    public function __construct(
        string $baseUrl,
        #[\SensitiveParameter]
        string $apiKey,
        array $options = []
    ) {
        $this->apiKey = $apiKey;
        try {
            $this->configure($baseUrl, $options);
        } catch (\InvalidArgumentException $e) {
            // On PHP < 8.2 a trace shows this constructor's arguments.
            throw self::withoutKeyInTrace($e, $apiKey);
        }
    }

    private function configure(string $baseUrl, array $options): void
    {
        if (!extension_loaded('curl') || !extension_loaded('json')) {
            throw new \InvalidArgumentException('WxsubClient needs ext-curl and ext-json');
        }
        if ($this->apiKey === '' || preg_match('/[\x00-\x20\x7f]/', $this->apiKey)) {
            throw new \InvalidArgumentException('the api key is empty or holds spaces or control characters');
        }
        $p = parse_url($baseUrl);
        if (!is_array($p) || !isset($p['scheme'], $p['host']) ||
            !in_array(strtolower($p['scheme']), ['http', 'https'], true) ||
            isset($p['query']) || isset($p['fragment']) || isset($p['user']) ||
            preg_match('/[\x00-\x20\x7f]/', $baseUrl)) {
            throw new \InvalidArgumentException(
                'baseUrl must be an http(s) URL without query, such as https://host/cgi-bin/wxsub.fcgi');
        }
        $this->baseUrl = rtrim($baseUrl, '/');
        foreach ($options as $k => $_) {
            if (!array_key_exists($k, self::$defaults)) {
                throw new \InvalidArgumentException('unknown option "' . $k . '"; known: ' .
                    implode(', ', array_keys(self::$defaults)));
            }
        }
        $o = $options + self::$defaults;
        foreach (['connectTimeoutMs', 'timeoutMs'] as $k) {
            if (!is_int($o[$k]) || $o[$k] < 1) {
                throw new \InvalidArgumentException($k . ' must be a positive integer (milliseconds)');
            }
        }
        if ($o['requestId'] !== null) {
            self::checkRequestId($o['requestId']);
        }
        if ($o['app'] !== null &&
            (!is_string($o['app']) || !preg_match('/^[a-z0-9-]{1,31}$/D', $o['app']))) {
            throw new \InvalidArgumentException('app must be an app name: 1 to 31 of a-z 0-9 -');
        }
        $this->options = $o;
    }

    /** var_dump() and print_r() show no api key. */
    public function __debugInfo()
    {
        return ['baseUrl' => $this->baseUrl, 'apiKey' => '(hidden)',
                'options' => $this->options, 'lastRequestId' => $this->lastRequestId];
    }

    /** The client holds a secret and a curl handle: not serializable. */
    public function __sleep()
    {
        throw new \LogicException('a WxsubClient cannot be serialized');
    }

    /** A copy that sends this X-Request-Id with every call (e.g. your own request's id). */
    public function withRequestId(?string $requestId): self
    {
        if ($requestId !== null) {
            self::checkRequestId($requestId);
        }
        $c = clone $this;
        $c->curl = null;
        $c->options['requestId'] = $requestId;
        return $c;
    }

    /** X-Request-Id of the last answer (wxsub's own when none was sent), or null. */
    public function lastRequestId(): ?string
    {
        return $this->lastRequestId;
    }

    // ---- the routes ------------------------------------------------------

    /**
     * Record that the user accepted these templates (one credit each).
     *
     * @param string          $openId      the user's 28-character openId
     * @param string[]|string $templateIds one to three template ids
     * @return array<string,int> the credits now held, per template
     */
    public function record(string $openId, $templateIds): array
    {
        if (is_string($templateIds)) {
            $templateIds = [$templateIds];
        }
        if (!is_array($templateIds)) {
            throw new \InvalidArgumentException('templateIds must be a string or an array of strings');
        }
        $a = $this->call('POST', '/record', null,
            ['openId' => $openId, 'templateIds' => array_values($templateIds)]);
        return self::creditsOf($a);
    }

    /**
     * Record the result of wx.requestSubscribeMessage as the mini program got
     * it, e.g. ['TPL1' => 'accept', 'TPL2' => 'reject', 'errMsg' => 'requestSubscribeMessage:ok'].
     * Only "accept" adds a credit. An accept with a reminder ("acceptWithAudio",
     * "acceptWithAlert", ...) is sent as "accept", the only accept wxsub knows.
     *
     * @return array{credits: array<string,int>, skipped: array<string,string>}
     */
    public function recordResult(string $openId, array $popupResult): array
    {
        $body = [];
        foreach ($popupResult as $k => $v) {
            if ($k === 'openId') {
                continue;
            }
            $body[(string)$k] = $k !== 'errMsg' && is_string($v) && strncmp($v, 'accept', 6) === 0 ?
                'accept' : $v;
        }
        $body['openId'] = $openId;
        $a = $this->call('POST', '/record', null, $body);
        $skipped = isset($a['skipped']) && is_array($a['skipped']) ? $a['skipped'] : [];
        return ['credits' => self::creditsOf($a), 'skipped' => $skipped];
    }

    /**
     * Send one subscribe message.
     *
     * @param string      $openId     the user's openId
     * @param array       $data       ['thing1' => '...', 'time3' => '...'] (values: strings,
     *                                or ['value' => '...']); UTF-8
     * @param string|null $templateId null: wxsub's wechat.templateId
     * @param string|null $page       the mini program page to open, e.g. pages/detail/detail?id=7
     * @param array       $options    miniprogramState ('formal', 'trial', 'developer'),
     *                                lang ('zh_CN', 'en_US', 'zh_HK', 'zh_TW'), requestId,
     *                                idempotencyKey (a retry with it sends nothing twice)
     * @return string WeChat's msgid, as a decimal string (64-bit safe)
     */
    public function send(string $openId, array $data, ?string $templateId = null,
                         ?string $page = null, array $options = []): string
    {
        $body = $this->sendBody(['openId' => $openId], $data, $templateId, $page, $options);
        $a = $this->call('POST', '/send', null, $body,
            isset($options['requestId']) ? $options['requestId'] : null, true,
            isset($options['idempotencyKey']) ? $options['idempotencyKey'] : null);
        if (!isset($a['msgid']) || !(is_int($a['msgid']) || is_string($a['msgid'])) ||
            !preg_match('/^[0-9]+$/', (string)$a['msgid'])) {
            throw new TransportException('wxsub POST /send: the answer has no msgid',
                'bad_answer', 200, $this->lastRequestId);
        }
        return (string)$a['msgid'];
    }

    /**
     * Queue one message (POST /send with "async": true): checked as send()
     * checks it (same exceptions), sent by wxsub's worker later.
     *
     * @param array $options as send()'s, and idempotencyKey
     * @return string the message id, for message()
     */
    public function sendAsync(string $openId, array $data, ?string $templateId = null,
                              ?string $page = null, array $options = []): string
    {
        $body = $this->sendBody(['openId' => $openId, 'async' => true], $data, $templateId,
            $page, $options);
        $a = $this->call('POST', '/send', null, $body,
            isset($options['requestId']) ? $options['requestId'] : null, true,
            isset($options['idempotencyKey']) ? $options['idempotencyKey'] : null);
        if (!isset($a['id']) || !is_string($a['id'])) {
            throw new TransportException('wxsub POST /send: the answer has no id',
                'bad_answer', 202, $this->lastRequestId);
        }
        return $a['id'];
    }

    /**
     * Queue the same message for many users (POST /send with "openIds", at
     * most outbox.maxBatch, duplicates counted once). Users without a
     * credit are listed in refused, not queued.
     *
     * @param string[] $openIds
     * @param array    $options as send()'s, and idempotencyKey
     * @return array ['batch' => id, 'queued' => n, 'messages' => [openId => id],
     *               'refused' => [openId => 'not_subscribed']]
     */
    public function sendBatch(array $openIds, array $data, ?string $templateId = null,
                              ?string $page = null, array $options = []): array
    {
        $body = $this->sendBody(['openIds' => array_values($openIds)], $data, $templateId,
            $page, $options);
        $a = $this->call('POST', '/send', null, $body,
            isset($options['requestId']) ? $options['requestId'] : null, true,
            isset($options['idempotencyKey']) ? $options['idempotencyKey'] : null);
        if (!isset($a['batch'], $a['queued']) || !is_string($a['batch'])) {
            throw new TransportException('wxsub POST /send: the answer has no batch',
                'bad_answer', 202, $this->lastRequestId);
        }
        return ['batch' => $a['batch'], 'queued' => (int)$a['queued'],
                'messages' => isset($a['messages']) && is_array($a['messages']) ? $a['messages'] : [],
                'refused' => isset($a['refused']) && is_array($a['refused']) ? $a['refused'] : []];
    }

    /**
     * What became of a queued message: status (queued, sending, sent,
     * delivered, failed, unknown), openId, templateId, attempts, msgid
     * (a decimal string) once sent, error and errcode once failed,
     * createdAt, updatedAt.
     *
     * @throws BadRequestException (not_found, HTTP 404) for an unknown id
     */
    public function message(string $id): array
    {
        $a = $this->call('GET', '/messages/' . rawurlencode($id), null);
        unset($a['ok']);
        if (isset($a['msgid'])) {
            $a['msgid'] = (string)$a['msgid'];
        }
        return $a;
    }

    /**
     * A batch's messages counted per status.
     *
     * @return array<string,int> e.g. ['queued' => 0, 'sent' => 498, 'failed' => 2, ...]
     */
    public function batch(string $id): array
    {
        $a = $this->call('GET', '/batches/' . rawurlencode($id), null);
        return isset($a['counts']) && is_array($a['counts']) ? $a['counts'] : [];
    }

    /** The body of any form of /send, options checked. */
    private function sendBody(array $body, array $data, ?string $templateId, ?string $page,
                              array $options): array
    {
        foreach ($options as $k => $_) {
            if (!in_array($k, ['miniprogramState', 'lang', 'requestId', 'idempotencyKey'], true)) {
                throw new \InvalidArgumentException('unknown send option "' . $k .
                    '"; known: miniprogramState, lang, requestId, idempotencyKey');
            }
        }
        if (isset($options['idempotencyKey']) &&
            !preg_match('/^[A-Za-z0-9_.:-]{1,64}$/', (string)$options['idempotencyKey'])) {
            throw new \InvalidArgumentException('idempotencyKey: 1 to 64 of A-Z a-z 0-9 _ - . :');
        }
        if ($templateId !== null) {
            $body['templateId'] = $templateId;
        }
        if ($page !== null) {
            $body['page'] = $page;
        }
        // [] would encode as a JSON array; wxsub wants an object.
        $body['data'] = $data === [] ? new \stdClass() : (object)$data;
        foreach (['miniprogramState', 'lang'] as $k) {
            if (isset($options[$k])) {
                $body[$k] = $options[$k];
            }
        }
        return $body;
    }

    /**
     * The user's credits per configured template.
     *
     * @return array<string,int>
     */
    public function subscriptions(string $openId): array
    {
        return self::creditsOf($this->call('GET', '/subscriptions', ['openId' => $openId]));
    }

    /**
     * Forget the user's credits: for one template, or for all.
     *
     * @return int how many records were deleted
     */
    public function forget(string $openId, ?string $templateId = null): int
    {
        $q = ['openId' => $openId];
        if ($templateId !== null) {
            $q['templateId'] = $templateId;
        }
        $a = $this->call('DELETE', '/subscriptions', $q);
        return isset($a['deleted']) && is_int($a['deleted']) ? $a['deleted'] : 0;
    }

    /**
     * GET /health (no api key sent).
     *
     * @return array e.g. ['ok' => true, 'redis' => 'ok', 'version' => '0.1.0']
     * @throws UnavailableException when Redis does not answer
     */
    public function health(): array
    {
        return $this->call('GET', '/health', null, null, null, false);
    }

    // ---- HTTP --------------------------------------------------------------

    /**
     * One call; returns the decoded answer of a success, throws otherwise.
     *
     * @param array|null $query
     * @param mixed      $body  null for none
     */
    private function call(string $method, string $route, ?array $query, $body = null,
                          ?string $requestId = null, bool $auth = true,
                          ?string $idempotencyKey = null): array
    {
        $requestId = $requestId !== null ? $requestId : $this->options['requestId'];
        if ($requestId !== null) {
            self::checkRequestId($requestId);
        }
        $what = 'wxsub ' . $method . ' ' . $route;
        $headers = ['Accept: application/json', 'Expect:'];
        if ($auth) {
            $headers[] = 'Authorization: Bearer ' . $this->apiKey;
        }
        if ($requestId !== null) {
            $headers[] = 'X-Request-Id: ' . $requestId;
        }
        if ($idempotencyKey !== null) {
            $headers[] = 'Idempotency-Key: ' . $idempotencyKey;
        }
        $json = null;
        if ($body !== null) {
            $json = json_encode($body, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES |
                JSON_PRESERVE_ZERO_FRACTION);
            if ($json === false) {
                $err = json_last_error_msg();
                if (json_last_error() === JSON_ERROR_UTF8) {
                    throw new InvalidDataException($what . ': a value is not valid UTF-8 (convert '
                        . 'GBK text with mb_convert_encoding($s, "UTF-8", "GBK") first); not sent',
                        'invalid_data', null, 0, $requestId);
                }
                throw new \InvalidArgumentException($what . ': cannot encode the body as JSON: ' . $err);
            }
            $headers[] = 'Content-Type: application/json; charset=utf-8';
        }
        // Several apps on one wxsub: every route but the install's /health is the app's.
        $url = $this->baseUrl . ($this->options['app'] !== null && $route !== '/health'
            ? '/' . $this->options['app'] : '') . $route;
        if ($query) {
            $url .= '?' . http_build_query($query, '', '&', PHP_QUERY_RFC3986);
        }

        $ch = $this->handle();
        $answerHeaders = [];
        $answer = '';
        $tooBig = false;
        $opts = [
            CURLOPT_URL => $url,
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_CONNECTTIMEOUT_MS => $this->options['connectTimeoutMs'],
            CURLOPT_TIMEOUT_MS => $this->options['timeoutMs'],
            CURLOPT_NOSIGNAL => true,
            CURLOPT_FOLLOWLOCATION => false,   // never carry the key elsewhere
            CURLOPT_USERAGENT => $this->options['userAgent'] !== null ?
                $this->options['userAgent'] : 'wxsub-php/' . self::VERSION,
            CURLOPT_SSL_VERIFYPEER => (bool)$this->options['verifyTls'],
            CURLOPT_SSL_VERIFYHOST => $this->options['verifyTls'] ? 2 : 0,
            CURLOPT_HEADERFUNCTION => static function ($h, $line) use (&$answerHeaders) {
                if (strncasecmp($line, 'HTTP/', 5) === 0) {
                    $answerHeaders = [];    // a new block (after 100 Continue)
                } elseif (($i = strpos($line, ':')) !== false) {
                    $answerHeaders[strtolower(trim(substr($line, 0, $i)))] = trim(substr($line, $i + 1));
                }
                return strlen($line);
            },
            CURLOPT_WRITEFUNCTION => static function ($h, $chunk) use (&$answer, &$tooBig) {
                if (strlen($answer) + strlen($chunk) > self::MAX_ANSWER) {
                    $tooBig = true;
                    return 0;   // aborts the transfer
                }
                $answer .= $chunk;
                return strlen($chunk);
            },
        ];
        if (defined('CURLOPT_PROTOCOLS')) {
            $opts[CURLOPT_PROTOCOLS] = CURLPROTO_HTTP | CURLPROTO_HTTPS;
        }
        if ($this->options['caInfo'] !== null) {
            $opts[CURLOPT_CAINFO] = $this->options['caInfo'];
        }
        if ($this->options['caPath'] !== null) {
            $opts[CURLOPT_CAPATH] = $this->options['caPath'];
        }
        if ($method === 'GET') {
            $opts[CURLOPT_HTTPGET] = true;
        } elseif ($method === 'POST') {
            $opts[CURLOPT_POST] = true;
            $opts[CURLOPT_POSTFIELDS] = $json !== null ? $json : '';
        } else {
            $opts[CURLOPT_CUSTOMREQUEST] = $method;
        }
        curl_setopt_array($ch, $opts);
        $ok = curl_exec($ch);
        $errno = curl_errno($ch);
        $status = (int)curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        $curlError = curl_error($ch);
        curl_reset($ch);   // drops the callbacks and the key; keeps the connection

        $rid = isset($answerHeaders['x-request-id']) && $answerHeaders['x-request-id'] !== '' ?
            $answerHeaders['x-request-id'] : $requestId;
        $this->lastRequestId = $rid;
        $where = $what . ' (' . self::safeUrl($this->baseUrl . $route) . ')';

        if ($tooBig) {
            throw new TransportException($where . ': the answer is larger than ' . self::MAX_ANSWER .
                ' bytes: not wxsub (check the base URL)', 'bad_answer', $status, $rid);
        }
        if ($ok === false || $errno !== 0) {
            throw $this->transportError($where, $errno, $curlError, $rid);
        }
        $a = $answer === '' ? null : json_decode($answer, true, 512, JSON_BIGINT_AS_STRING);
        if (!is_array($a) || !isset($a['ok']) || !is_bool($a['ok'])) {
            throw new TransportException($where . ': HTTP ' . $status .
                ' with an answer that is not wxsub\'s JSON' .
                ($status === 404 ? ' (check the base URL)' : ''), 'bad_answer', $status, $rid);
        }
        if ($a['ok'] === true && $status >= 200 && $status < 300) {
            return $a;
        }
        throw $this->errorFor($where, $status, $a, $rid);
    }

    /** @return resource|\CurlHandle */
    private function handle()
    {
        if ($this->curl === null) {
            $this->curl = curl_init();
            if ($this->curl === false) {
                $this->curl = null;
                throw new TransportException('wxsub: curl_init failed', 'transport_error');
            }
        } else {
            curl_reset($this->curl);   // keeps the connection cache
        }
        return $this->curl;
    }

    private function transportError(string $where, int $errno, string $curlError, ?string $rid): TransportException
    {
        $timeouts = [28];                        // CURLE_OPERATION_TIMEDOUT
        $connects = [5, 6, 7];                   // resolve proxy, resolve host, connect
        if (in_array($errno, $timeouts, true)) {
            $code = 'timeout';
        } elseif (in_array($errno, $connects, true)) {
            $code = 'connect_failed';
        } else {
            $code = 'transport_error';
        }
        $msg = $where . ': ' . ($curlError !== '' ? $curlError : 'curl error') . ' (curl ' . $errno . ')';
        return new TransportException($this->scrub($msg), $code, 0, $rid, $errno);
    }

    /** The exception for a {"ok":false,...} answer (or an odd status). */
    private function errorFor(string $where, int $status, array $a, ?string $rid): WxsubException
    {
        $code = isset($a['error']) && is_string($a['error']) ? $a['error'] : 'http_' . $status;
        $errcode = isset($a['errcode']) && is_int($a['errcode']) ? $a['errcode'] : null;
        $text = isset($a['message']) && is_string($a['message']) ? $a['message'] : 'failed';
        $msg = $this->scrub($where . ': ' . $text . ' (' . $code . ', HTTP ' . $status .
            ($errcode !== null ? ', WeChat errcode ' . $errcode : '') . ')');
        $map = [
            'not_subscribed' => NotSubscribedException::class,
            'user_refused' => UserRefusedException::class,
            'invalid_data' => InvalidDataException::class,
            'sensitive_content' => SensitiveContentException::class,
            'unauthorized' => UnauthorizedException::class,
            'template_banned' => ForbiddenException::class,
            'forbidden' => ForbiddenException::class,
            'quota_exceeded' => RateLimitedException::class,
            'rate_limited' => RateLimitedException::class,
            'upstream_error' => UpstreamException::class,
            'token_unavailable' => UnavailableException::class,
            'redis_unavailable' => UnavailableException::class,
            'config_error' => ServerException::class,
            'internal_error' => ServerException::class,
            'idempotency_in_flight' => IdempotencyException::class,
            'idempotency_key_reused' => IdempotencyException::class,
        ];
        if (isset($map[$code])) {
            $class = $map[$code];
        } elseif ($status === 503) {
            $class = UnavailableException::class;
        } elseif ($status === 502 || $status === 504) {
            $class = UpstreamException::class;
        } elseif ($status === 401) {
            $class = UnauthorizedException::class;
        } elseif ($status >= 400 && $status < 500) {
            $class = BadRequestException::class;
        } elseif ($status >= 500) {
            $class = ServerException::class;
        } else {
            $class = WxsubException::class;
        }
        return new $class($msg, $code, $errcode, $status, $rid);
    }

    private function scrub(string $s): string
    {
        return $this->apiKey !== '' ? str_replace($this->apiKey, '(api key)', $s) : $s;
    }

    private static function safeUrl(string $url): string
    {
        // No credentials, no query (it holds openIds) in messages.
        $p = parse_url($url);
        if (!is_array($p) || !isset($p['scheme'], $p['host'])) {
            return '(url)';
        }
        return $p['scheme'] . '://' . $p['host'] . (isset($p['port']) ? ':' . $p['port'] : '') .
            (isset($p['path']) ? $p['path'] : '');
    }

    private static function checkRequestId($id): void
    {
        if (!is_string($id) || !preg_match('/^[A-Za-z0-9._-]{1,63}$/D', $id)) {
            throw new \InvalidArgumentException(
                'a request id is 1 to 63 characters of A-Z a-z 0-9 . _ -');
        }
    }

    /** @return array<string,int> */
    private static function creditsOf(array $a): array
    {
        $out = [];
        if (isset($a['credits']) && is_array($a['credits'])) {
            foreach ($a['credits'] as $k => $v) {
                $out[(string)$k] = (int)$v;
            }
        }
        return $out;
    }

    /** The same exception with the api key replaced in its trace's arguments. */
    private static function withoutKeyInTrace(\Throwable $e, string $key): \Throwable
    {
        if ($key === '') {
            return $e;
        }
        try {
            $r = new \ReflectionProperty(\Exception::class, 'trace');
            if (PHP_VERSION_ID < 80100) {
                $r->setAccessible(true);
            }
            $trace = $r->getValue($e);
            foreach ($trace as $i => $frame) {
                if (isset($frame['args']) && is_array($frame['args'])) {
                    foreach ($frame['args'] as $j => $arg) {
                        if ($arg === $key) {
                            $trace[$i]['args'][$j] = '(api key)';
                        }
                    }
                }
            }
            $r->setValue($e, $trace);
        } catch (\Throwable $ignored) {
            // keep the original; its message never held the key
        }
        return $e;
    }
}
