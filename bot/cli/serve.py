"""Commands that run the assistant: `run` (the product: WeChat or the terminal chat, with the console beside it) and
`chat` (the terminal chat alone)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.command import Command
from bot.cli.output import format_report, ingest_with_progress
from bot.config import Settings

if TYPE_CHECKING:
    from bot.app import Application
    from bot.channels.terminal import TerminalChannel
    from bot.console.server import ConsoleServer
    from bot.ports import ChatGateway
    from bot.services.sending import SenderThread


def ready_application(settings: Settings) -> Application:
    """The application built, the knowledge base ingested (incrementally) and the models loaded."""
    from bot.app import build_application

    application = build_application(settings)
    print("正在检查知识库……", flush=True)
    print(format_report(ingest_with_progress(application.ingestor, settings.knowledge_dir)), flush=True)
    application.prepare()
    return application


def run(settings: Settings, args: argparse.Namespace) -> int:
    """The product: the staff console plus WeChat when a puppet service is configured, else the terminal chat."""
    if not settings.wechaty_endpoint:
        return chat(settings, args)
    from bot.runtime import WechatRuntime

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    application = ready_application(settings)
    runtime = WechatRuntime(
        application,
        endpoint=settings.wechaty_endpoint,
        token=settings.wechaty_token.get_secret_value(),
        login_timeout_s=settings.wechaty_login_timeout_s,
    )

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        serving = asyncio.create_task(runtime.run(stop))
        await asyncio.sleep(0)
        for sig in (signal.SIGINT, signal.SIGTERM):  # after wechaty installed its own handlers
            loop.add_signal_handler(sig, stop.set)
        print(f"正在连接微信服务 {settings.wechaty_endpoint}（登录后开始回复），按 Ctrl-C 停止。", flush=True)
        await serving

    with _serving(application, console=True):
        asyncio.run(serve())
    return 0


def chat(settings: Settings, args: argparse.Namespace) -> int:
    """An interactive conversation in the terminal (a private chat through the router and outbox, like WeChat),
    with the staff console beside it when run as the product."""
    from bot.channels.terminal import TERMINAL, TerminalChannel, TerminalGateway
    from bot.services.sending import SendingPolicy

    application = ready_application(settings)
    # The terminal is no WeChat account to protect: no spacing between messages.
    # It sends only the terminal's messages: what is meant for WeChat groups waits for a WeChat sender.
    gateway = TerminalGateway(lambda text: print(text, flush=True))
    sender = application.sender(gateway, channel=TERMINAL, policy=SendingPolicy(0, 0))
    sending = threading.Lock()

    def drain() -> None:
        with sending:
            asyncio.run(sender.send_due())

    stop = threading.Event()
    channel = TerminalChannel(application.router.handle, drain, application.clock)
    # A service manager stops the process with SIGTERM: the same clean stop as Ctrl-C (the scheduler's lease is
    # handed over, the console closed).
    signal.signal(signal.SIGTERM, _interrupt)
    with _serving(application, console=args.command == "run") as console:
        try:
            _converse(channel, drain, stop, console)
        finally:
            stop.set()
    return 0


def _converse(
    channel: TerminalChannel, drain: Callable[[], None], stop: threading.Event, console: ConsoleServer | None
) -> None:
    """The resident's side of the terminal chat until they leave; with no terminal, the console alone until
    stopped."""
    if console is not None:
        # Answers staff send from the console reach the terminal resident without waiting for the next line.
        threading.Thread(target=_drain_until, args=(drain, stop), name="terminal-sender", daemon=True).start()
    if console is not None and not sys.stdin.isatty():
        print("没有交互终端：只运行控制台，按 Ctrl-C 停止。", flush=True)
        stop.wait()
        return
    print("您好，我是社区小助手。请输入您的问题（输入“退出”或按 Ctrl-D 结束）。", flush=True)
    while True:
        try:
            line = input("居民> ")
        except EOFError:
            print()
            return
        if line.strip() in {"退出", "exit", "quit"}:
            return
        if line.strip():
            channel.say(line)


@contextmanager
def _serving(application: Application, *, console: bool) -> Iterator[ConsoleServer | None]:
    """What runs beside every chat channel (WeChat, the terminal, or none: the console alone), started here once
    and stopped together: the scheduled jobs, the staff console (when asked for), the WeCom robots' and the SMS
    gateway's senders."""
    server: ConsoleServer | None = None
    senders: list[SenderThread] = []
    try:
        application.start_jobs()
        server = _start_console(application) if console else None
        senders = _start_webhook_senders(application)
        yield server
    finally:
        for sender in senders:
            sender.stop()
        application.stop_jobs()
        if server is not None:
            server.stop()


def _start_webhook_senders(application: Application) -> list[SenderThread]:
    """The webhook channels staff turned on, each drained on a thread of its own, one message every interval (no
    jitter: a robot or an SMS relay is no personal account to protect). A channel left off keeps its messages waiting
    in the outbox. BOT_WECOM_ENABLED: "wecom" to the WeCom group robots; BOT_SMS_ENABLED: "sms" to the SMS relay."""
    settings = application.settings
    started: list[SenderThread] = []
    try:
        if settings.wecom_enabled:
            from bot.channels.wecom import WecomRobotGateway
            from bot.domain.wecom import WECOM

            gateway: ChatGateway = WecomRobotGateway.from_settings(settings)
            started.append(_start_sender(application, gateway, WECOM, settings.wecom_interval_s))
            print(f"企业微信群机器人发送已开启：每个机器人每 {settings.wecom_interval_s:g} 秒最多一条。", flush=True)
        if settings.sms_enabled:
            from bot.channels.sms import SmsGateway
            from bot.domain.sms import SMS

            gateway = SmsGateway.from_settings(settings)
            started.append(_start_sender(application, gateway, SMS, settings.sms_interval_s))
            print(f"短信发送已开启：每 {settings.sms_interval_s:g} 秒最多一条。", flush=True)
    except BaseException:
        for sender in started:
            sender.stop()
        raise
    return started


def _start_sender(application: Application, gateway: ChatGateway, channel: str, interval_s: float) -> SenderThread:
    """One channel's outbox messages drained through gateway on a thread named "<channel>-sender"."""
    from bot.services.sending import SenderThread, SendingPolicy

    policy = SendingPolicy(interval_s=interval_s, jitter_s=0.0, max_attempts=application.settings.send_max_attempts)
    thread = SenderThread(application.sender(gateway, channel=channel, policy=policy), name=f"{channel}-sender")
    thread.start()
    return thread


def _interrupt(signum: int, frame: object) -> None:
    """Stop as Ctrl-C does."""
    raise KeyboardInterrupt


def _drain_until(drain: Callable[[], None], stop: threading.Event, every_s: float = 1.0) -> None:
    while not stop.wait(every_s):
        drain()


def _start_console(application: Application) -> ConsoleServer | None:
    """Serve the staff console beside the chat channel (unless switched off) and print its address."""
    settings = application.settings
    if not settings.console_enabled:
        return None
    from bot.console.app import create_console
    from bot.console.server import ConsoleServer

    _log_to_file(logging.getLogger("bot.console"), settings.data_dir / "logs" / "console.log")
    server = ConsoleServer(create_console(application), host=settings.console_host, port=settings.console_port)
    server.start()
    print(f"控制台已启动：{server.address}", flush=True)
    if not application.accounts.has_admin():
        print("  还没有管理员账号，请另开终端运行：python -m bot create-admin 用户名", flush=True)
    return server


def _log_to_file(logger: logging.Logger, path: Path) -> None:
    """Send a logger's records (errors with their tracebacks) to a file instead of the terminal."""
    from bot.local_state import LocalStateError, os_error_message, prepare_directory

    prepare_directory(path.parent, "日志目录")
    try:
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError as exc:
        raise LocalStateError(os_error_message(path.parent, exc, "日志目录")) from exc
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False


COMMANDS = (
    Command("run", "运行助手和控制台：设置了 BOT_WECHATY_ENDPOINT 时接入微信，否则在终端对话", run),
    Command("chat", "在终端里和助手对话（先自动增量导入知识库）", chat),
)
