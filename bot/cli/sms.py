"""Commands on the SMS gateway: checking that the relay takes a message."""

from __future__ import annotations

import argparse

from bot.cli.command import Command
from bot.config import Settings

TEST_MESSAGE = "【测试】社区小助手的短信通道连接正常。收到这条短信说明设置无误，无需回复。"


def sms_test(settings: Settings, args: argparse.Namespace) -> int:
    """Send one test SMS to the given number (whether or not BOT_SMS_ENABLED is on) and say in Chinese what the
    relay answered."""
    from bot.channels.sms import SmsGateway
    from bot.cli.output import send_test_message
    from bot.domain.messages import OutboundMessage
    from bot.domain.sms import SMS, mask_mobile

    number = mask_mobile(args.number)
    message = OutboundMessage(SMS, TEST_MESSAGE, user_id=args.number)
    failure = send_test_message(SmsGateway.from_settings(settings), message, advice="请核对手机号和设置后再试")
    if failure is not None:
        print(f"测试短信没有发出去（{number}）：{failure}。")
        return 1
    print(f"短信网关已收下测试短信（{number}），请查看手机。")
    if not settings.sms_enabled:
        print("注意：BOT_SMS_ENABLED 还没有打开，要发的短信会留在待发队列里，打开后才发送。")
    return 0


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("number", help="收测试短信的手机号（11 位）")


COMMANDS = (Command("sms-test", "给一个手机号发一条测试短信，显示短信网关的回应", sms_test, _arguments),)
