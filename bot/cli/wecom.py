"""Commands on the WeCom (企业微信) group robots: checking that one robot takes messages."""

from __future__ import annotations

import argparse

from bot.cli.command import Command
from bot.config import Settings

TEST_MESSAGE = "【测试】社区小助手的企业微信群机器人连接正常，诉求派单会发到这个群。"


def wecom_test(settings: Settings, args: argparse.Namespace) -> int:
    """Send one test message to the robot with the given key (whether or not BOT_WECOM_ENABLED is on) and say in
    Chinese what the robot answered."""
    from bot.channels.wecom import WecomRobotGateway
    from bot.cli.output import send_test_message
    from bot.domain.messages import OutboundMessage
    from bot.domain.wecom import WECOM, mask_key

    robot = mask_key(args.key)
    message = OutboundMessage(WECOM, TEST_MESSAGE, group_id=args.key)
    failure = send_test_message(WecomRobotGateway.from_settings(settings), message, advice="请核对 key 和设置后再试")
    if failure is not None:
        print(f"测试消息没有发出去（机器人 {robot}）：{failure}。")
        return 1
    print(f"企业微信已收下测试消息（机器人 {robot}，返回码 0），请到群里查看。")
    if not settings.wecom_enabled:
        print("注意：BOT_WECOM_ENABLED 还没有打开，派单消息会留在待发队列里，打开后才发送。")
    return 0


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key", help="群机器人 webhook 地址里 key= 后面的部分")


COMMANDS = (Command("wecom-test", "给一个企业微信群机器人发一条测试消息，显示发送结果", wecom_test, _arguments),)
