"""The rules the linter knows, by their ``compliance.md`` ids: legal basis and plain explanation.

Text only. Which rule fires, and how severely, is decided in ``linter.py``; this is what the
operator reads when it does. Not legal advice (see compliance.md for sources and confidence).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    basis: str
    zh: str
    en: str


RULES: dict[str, Rule] = {
    "PYR-1": Rule(
        "禁止传销条例 art 7(2) (2005)",
        "以缴纳费用或购买商品作为加入或获得发展下线资格的条件，属于“入门费”型传销。",
        "A fee, or a purchase as a disguised fee, to join or to gain the right to recruit is "
        "pyramid selling (entry fee).",
    ),
    "PYR-2": Rule(
        "禁止传销条例 art 7(1)",
        "按发展人员数量计算报酬（拉人头）属于传销。",
        "Pay computed on the number of people recruited is pyramid selling (headcount pay).",
    ),
    "PYR-3": Rule(
        "禁止传销条例 art 7(3); 直销管理条例 art 24",
        "上线从下线的销售额中计酬（团队计酬）；两级以上佣金，与入门费或拉人头结合即构成传销。",
        "Uplines paid on downline sales (team pay). Two or more levels is a warning; combined "
        "with an entry fee or headcount pay, or beyond two levels, it is refused.",
    ),
    "PYR-4": Rule(
        "公通字〔2013〕37号",
        "有入门费或拉人头计酬，且下线树层级≥3（含发起人）、人数≥30：达到组织、领导传销活动罪立案标准。",
        "With an entry fee or headcount pay, a referral tree of 3+ levels (root counted) and 30+ "
        "people meets the criminal filing line for organising pyramid selling.",
    ),
    "PYR-5": Rule(
        "两高一部 opinion 2013 (情节严重)",
        "参与人数≥120 或收取资金≥250 万元：情节严重（5 年以上）。",
        "120+ participants or ¥2.5M+ collected: a serious case (5+ years).",
    ),
    "PYR-7": Rule(
        "直销管理条例 art 24",
        "直销员报酬只能按其本人直接销售额计算，且不得超过 30%。",
        "Direct sellers may be paid only on their own direct sales, at most 30%.",
    ),
    "PYR-8": Rule(
        "商业特许经营管理条例 art 7-8",
        "收取区域代理费须依法备案特许经营（两家直营店满一年，首次签约 15 日内备案）。",
        "Territory or agent fees require a filed franchise (2 directly-run stores for over a "
        "year; filing within 15 days of the first contract).",
    ),
    "PYR-9": Rule(
        "微信公告 2016-09-12; 外链规范 §7.1",
        "微信小程序或公众号内多级分销、返利返现有被封号的风险。",
        "Multi-level pay or cash-back promises inside a WeChat mini program or official account "
        "risk a permanent ban.",
    ),
    "FUND-2": Rule(
        "防范和处置非法集资条例 art 2; 法释〔2022〕5号",
        "积分价格只涨不跌或等于资金池÷流通量、保证兑现、固定比例提现、封顶出局、每日释放、返利≥100%："
        "均属承诺回报，是非法集资的核心特征。",
        "A point price that only rises or equals pool ÷ circulation, a guaranteed cash rate, "
        "cash-out with a haircut, forced exit at a multiple, a daily release, or rebates of 100% "
        "or more of spend are promises of return: the hallmark of illegal fund-raising.",
    ),
    "FUND-3": Rule(
        "法释〔2022〕5号 (非法吸收公众存款 thresholds)",
        "承诺回报且吸收资金≥100 万元或人数≥150：达到非法吸收公众存款罪立案标准。",
        "With promised returns, ¥1M+ taken or 150+ people meets the criminal threshold for "
        "illegally taking public deposits.",
    ),
    "FUND-4": Rule(
        "法释〔2022〕5号 art 2(8); 银发〔2021〕237号",
        "发行通证、上架交易所、积分与通证互换：虚拟货币相关业务属非法金融活动，零容忍。",
        "Tokens, exchange listings or points ↔ token swaps are illegal financial activity under "
        "the virtual-currency ban: zero tolerance.",
    ),
    "PTS-1": Rule(
        "非金融机构支付服务管理办法 (2010) 预付价值; 文化部/商务部 2009",
        "积分可兑换现金即成为多用途预付价值，需央行支付牌照；积分只能抵扣消费。",
        "Points redeemable for cash become multi-purpose prepaid value, which needs a PBOC "
        "licence: points may only discount purchases.",
    ),
    "PTS-2": Rule(
        "单用途商业预付卡管理办法 (2012); 2011 意见",
        "出售积分即出售预付价值；可在其他商户使用的出售积分属多用途预付卡，须持牌。",
        "Selling points sells prepaid value; sold points spendable at other merchants are a "
        "multi-purpose prepaid card, which needs a licence.",
    ),
    "PTS-3": Rule(
        "商务部等9部门 2026-01-05 通知",
        "严禁购买或倒卖积分、虚假消费套取积分；绿色积分不得买卖。",
        "Buying or reselling points, and fake purchases to farm points, are forbidden; green "
        "points may not be traded.",
    ),
    "PTS-4": Rule(
        "消保法 art 26; 电子商务法 art 34; 规范促销行为暂行规定 art 6, 13",
        "变更规则须至少提前 7 天公示；不得降低已发积分的价值、缩短期限或附加条件。",
        "Rule changes need at least 7 days' public notice, and may never lower the value, "
        "shorten the expiry or add conditions to points already issued.",
    ),
    "PTS-6": Rule(
        "规范促销行为暂行规定 (抽奖式有奖销售)",
        "抽奖式有奖销售最高奖金额不得超过 5 万元。",
        "A lottery-type prize may not exceed ¥50,000.",
    ),
    "PAY-2": Rule(
        "支付结算办法 art 6; 非银行支付机构监督管理条例 (国务院令768)",
        "平台先收消费者资金再结算给商户即“二清”，属无证支付结算；必须由持牌机构分账。",
        "A platform collecting buyers' money and then settling merchants itself is unlicensed "
        "clearing (二清): splits must be made by a licensed payment institution.",
    ),
    "AML-1": Rule(
        "derived from PTS-1/2, PAY-2/4/5 and the 2026 ban on 倒卖积分",
        "会员间转让积分构成价值转移通道：默认关闭，开启须实名并限额；会员间买卖积分禁止。",
        "Member-to-member transfers turn points into a value channel: off by default, real-name "
        "and capped if on; member-to-member sales of points are refused.",
    ),
}
