import { ApiProperty } from '@nestjs/swagger';

export class DailyActivityDto {
  @ApiProperty({ example: '2026-11-20', description: 'UTC day' }) date: string;
  @ApiProperty({ example: 37, description: 'Messages sent that day' }) count: number;
}

export class DashboardStatsDto {
  @ApiProperty({ example: 1280 }) totalContacts: number;
  @ApiProperty({ example: 6 }) totalFlows: number;
  @ApiProperty({ example: 4 }) activeFlows: number;
  @ApiProperty({ example: 912, description: 'Messages sent since the start of the month (UTC)' }) messagesThisMonth: number;
  @ApiProperty({
    example: 0.8734,
    description:
      'Share (0 to 1, four decimals) of the messages sent this month that reached the contact: ' +
      'DELIVERED or READ, over all sent this month. 0 when none was sent.',
  })
  conversionRate: number;
  @ApiProperty({ type: [DailyActivityDto], description: 'Messages sent per UTC day over the last 7 days, oldest first, today last' })
  recentActivity: DailyActivityDto[];
}
